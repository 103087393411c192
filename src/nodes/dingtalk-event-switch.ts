/**
 * `dingtalk-event-switch`: routes DingTalk event messages to outputs by rule (core/switch-rules),
 * like core `switch`. JSONata rules use Node-RED's own JSONata support; messages keep their order.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { catalogueForEditor } from '../core/events';
import { escapeForLog } from '../core/log-escape';
import { RateLimitedCall } from '../core/rate-limited-call';
import { type CompiledRule, compileRule, eventViewOf, route } from '../core/switch-rules';
import { statusPainter, text as tx } from './editor-text';
import { registerType } from './register-type';

interface SwitchDef extends NodeDef {
  rules?: unknown[];
  checkall?: string | boolean;
  otherwise?: boolean | string;
  outputs?: number | string;
}

type Expression = unknown; // Node-RED's prepared JSONata expression
type Send = (msg: Array<NodeMessage | null>) => void;
type Done = (err?: Error) => void;

const STATUS_INTERVAL_MS = 250;
/** Unknown event types are reported once each; a bound keeps a flood of odd types from growing memory. */
const MAX_REPORTED_UNKNOWN = 1000;

export default function register(RED: NodeAPI): void {
  RED.httpAdmin.get('/dingtalk-event-switch/catalogue', RED.auth.needsPermission('dingtalk-event-switch.read'), (_req, res) => {
    res.json(catalogueForEditor());
  });

  function DingTalkEventSwitch(this: Node, def: SwitchDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, params: Record<string, string | number> = {}) => RED._(`dingtalk-event-switch.${key}`, params);

    const configured = Array.isArray(def.rules) ? def.rules : [];
    const rules: CompiledRule[] = configured.map(compileRule);
    const checkAll = def.checkall !== false && def.checkall !== 'false';
    const otherwise = def.otherwise === true || def.otherwise === 'true';
    const outputCount = rules.length + (otherwise ? 1 : 0);

    // JSONata rules are prepared once; a syntax error is reported and the rule never matches.
    const expressions = new Map<number, Expression>();
    rules.forEach((rule, i) => {
      if (rule.kind === 'invalid') {
        node.error(t('errors.bad-rule', { index: i + 1 }));
      } else if (rule.kind === 'jsonata') {
        try {
          expressions.set(i, RED.util.prepareJSONataExpression(rule.expression, node));
        } catch (err) {
          node.error(t('errors.jsonata', { index: i + 1, message: (err as Error).message }));
          rules[i] = { kind: 'invalid' };
        }
      }
    });

    const counts = new Array<number>(outputCount).fill(0);
    const painter = statusPainter(RED, node);
    const status = new RateLimitedCall(() => {
      painter.show('green', 'dot', tx('dingtalk-event-switch.status.counts', { counts: counts.join(' · ') }));
    }, STATUS_INTERVAL_MS);

    const reported = new Set<string>();
    const reportUnknown = (type: string) => {
      if (reported.has(type) || reported.size >= MAX_REPORTED_UNKNOWN) return;
      reported.add(type);
      node.warn(t('errors.unknown-type', { type: type ? escapeForLog(type, 100) : '(none)' }));
    };

    const deliver = (msg: NodeMessage, outputs: number[], send: Send) => {
      if (outputs.length === 0) return;
      const out = new Array<NodeMessage | null>(outputCount).fill(null);
      for (const i of outputs) {
        out[i] = msg; // Node-RED clones for every output after the first
        counts[i] += 1;
      }
      send(out);
      status.request();
    };

    const evaluate = (expression: Expression, msg: NodeMessage): Promise<boolean> =>
      new Promise((resolve, reject) => {
        RED.util.evaluateJSONataExpression(expression as never, msg, (err: Error | null, value: unknown) => {
          if (err) reject(err);
          else resolve(value === true);
        });
      });

    // With JSONata rules, evaluation is asynchronous: a chain keeps messages in arrival order.
    let chain: Promise<void> = Promise.resolve();

    node.on('input', (msg: NodeMessage, send: Send, done: Done) => {
      const event = eventViewOf(msg as Parameters<typeof eventViewOf>[0]);
      if (event.group === undefined) reportUnknown(event.type);
      if (expressions.size === 0) {
        deliver(msg, route(rules, event, { checkAll, otherwise }), send);
        done();
        return;
      }
      chain = chain.then(async () => {
        try {
          const results = new Map<number, boolean>();
          for (const [i, expression] of expressions) {
            try {
              results.set(i, await evaluate(expression, msg));
            } catch (err) {
              // JSONata's messages quote the values they failed on, which come from the push.
              node.warn(t('errors.jsonata-eval', { index: i + 1, message: escapeForLog((err as Error).message) }));
              results.set(i, false);
            }
          }
          deliver(msg, route(rules, event, { checkAll, otherwise }, results), send);
          done();
        } catch (err) {
          done(err as Error); // reported by the runtime (Catch nodes); the chain goes on
        }
      });
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      status.cancel();
      void chain.then(() => done());
    });
  }

  registerType(RED, 'dingtalk-event-switch', DingTalkEventSwitch);
}
