'use strict';
// The Chinese a native reader expects (issue 16): one term per idea, DingTalk's own names, full-width
// brackets. Guards nodes/locales/zh-CN/* (the nodes' and the event center's catalogues and help),
// README.zh-CN.md and the event catalogue's labels against the words that were replaced coming back.
require('should');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const ZH_DIR = path.join(ROOT, 'nodes', 'locales', 'zh-CN');

/** [file, text] of every zh-CN text: catalogues and help, the README, the catalogue's zh-CN labels. */
function zhTexts() {
  const out = fs.readdirSync(ZH_DIR).filter((f) => /\.(json|html)$/.test(f))
    .map((f) => [`nodes/locales/zh-CN/${f}`, fs.readFileSync(path.join(ZH_DIR, f), 'utf8')]);
  out.push(['README.zh-CN.md', fs.readFileSync(path.join(ROOT, 'README.zh-CN.md'), 'utf8')]);
  const { CATALOGUE, GROUPS } = require('../../core/event-catalogue');
  out.push(['src/core/event-catalogue.ts (zh-CN labels)', [...GROUPS, ...CATALOGUE].map((e) => e.label['zh-CN']).join('\n')]);
  return out;
}

/** Fenced code blocks (```…```) become empty lines: commands and diagrams are not prose. */
function withoutCode(text) {
  return text.replace(/```[\s\S]*?```/g, (block) => block.replace(/[^\n]/g, ''));
}

/**
 * Lines of `text` matching `re`, as "file:line: text" for the failure message; `prose(line)` first takes out
 * what is not Chinese prose for that check.
 */
function hits(file, text, re, prose = (line) => line) {
  return withoutCode(text).split('\n').flatMap((line, i) => (re.test(prose(line)) ? [`${file}:${i + 1}: ${line.trim().slice(0, 160)}`] : []));
}

/**
 * For the bracket check: Node-RED's help lists properties as ": name (type) : text" (the type must stay in
 * half-width brackets to be shown as one), link targets such as (#多实例redis) and calls such as
 * $contains("出差") are code.
 */
function bracketProse(line) {
  if (/^\s*: /.test(line)) return '';
  return line.replace(/\]\([^)]*\)/g, ']').replace(/[$\w]+\([^()]*\)/g, '');
}

const CJK = '\\u4e00-\\u9fff';

// [what it should say, the pattern of what it must no longer say]
const BANNED = [
  ['统一字段名（旧版字段转为事件订阅格式）', /规范化负载|规范化/],
  ['补拉推送失败的事件', /找回错过|错过的事件|遗漏|读取推送失败/],
  ['请求体', /正文/],
  ['事件中心', /中枢/],
  ['事件内容 (payload); 负载 is only load: 负载均衡、负载生成器、系统负载、开环负载', /(?<!系统|开环)负载(?!均衡|生成器)/],
  ['接收方 ID', /receive id|接收(?:者|人|端)?\s*ID/i],
  ['投递任务', /工作者/],
  ['冒烟测试', /冒烟运行/],
  ['重新投递 (重放 only for a replay attack: 重放攻击)', /重放(?!攻击)/],
  ['投递失败（死信）: 死信 only in full-width brackets', /(?<!（)死信|死信(?!）)/],
  ['full-width brackets around or beside Chinese', new RegExp(`[${CJK}，。：；、]\\(|\\)[${CJK}，。：；、]|\\([^()\\n]*[${CJK}][^()\\n]*\\)`), bracketProse],
  ['no space after full-width punctuation', /[，。：；！？、（）“”] (?!\|)/],
];

describe('zh-CN wording', function () {
  const texts = zhTexts();

  it('reads the catalogues, help texts, README and event labels', function () {
    texts.length.should.be.aboveOrEqual(10);
    for (const [file, text] of texts) text.should.match(/[\u4e00-\u9fff]/, `${file} has no Chinese`);
  });

  for (const [wanted, banned, prose] of BANNED) {
    it(`says ${wanted}`, function () {
      const found = texts.flatMap(([file, text]) => hits(file, text, banned, prose));
      found.should.eql([], `${found.length} line(s) to reword as ${wanted}:\n${found.join('\n')}`);
    });
  }

  it('dispatch texts call the subscriber\'s address 目标 URL', function () {
    const found = texts.filter(([file]) => /dingtalk-dispatch\./.test(file)).flatMap(([file, text]) => hits(file, text, /地址/));
    found.should.eql([], found.join('\n'));
  });

  it('the patterns catch what they are meant to', function () {
    const samples = ['开启规范化负载后', '找回错过的事件', 'JSON 正文', '中枢会重试', '旧版负载', '校验 receive id', '接收 ID',
      '投递工作者', '冒烟运行', '全部重放', '保留为死信', '钉钉(DingTalk)', '（见上文） 然后'];
    for (const s of samples) BANNED.some(([, re]) => re.test(s)).should.be.true(s);
    const fine = ['统一字段名（旧版字段转为事件订阅格式）', '补拉推送失败的事件', '请求体', '事件中心', '负载均衡器', '接收方 ID',
      '投递任务', '冒烟测试', '重放攻击', '投递失败（死信）', '全部重新投递', '`--receive-id <AppKey>`', 'Node-RED 的（ISV）'];
    for (const s of [': 回调方式 (选项) : 文字', '[多实例（Redis）](#多实例redis)', 'payload.title ~> $contains("出差")']) bracketProse(s).should.not.match(BANNED.find(([w]) => w.startsWith('full-width'))[1]);
    for (const s of fine) BANNED.filter(([, re]) => re.test(s)).map(([w]) => w).should.eql([], s);
  });
});
