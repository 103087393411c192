'use strict';
// A local stand-in for DingTalk's two API hosts (one server serves both families: point
// dingtalkAppOapiUrl and dingtalkAppApiUrl at it). It checks the app credentials and the token on
// every call, like DingTalk, and can be told to expire tokens, rate-limit, block the IP, and serve the
// failed-events list in pages.
const http = require('node:http');
const crypto = require('node:crypto');

async function startFakeDingTalk({ appKey, appSecret }) {
  const state = {
    tokens: new Set(),
    tokenRequests: 0,
    calls: [], // { method, path, query, body, token }
    rateLimitNext: 0, // the next N API calls answer 90018
    v1RateLimitNext: 0,
    expireAll: false, // the next call with any current token answers 42001 and forgets the tokens
    blockNext: false, // the next call answers the IP punishment body
    blockToken: false, // the next token request answers it
    failedPages: [], // arrays of entries; each read returns the next page and deletes the previous
    failedReads: 0,
    registration: null,
    instances: {}, // processInstanceId -> v1.0 result
    v1Forbidden: false,
  };
  const json = (res, status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const url = new URL(req.url, 'http://fake');
      const body = raw ? JSON.parse(raw) : undefined;
      const q = Object.fromEntries(url.searchParams);
      // --- tokens ---
      if (url.pathname === '/v1.0/oauth2/accessToken') {
        state.tokenRequests += 1;
        if (state.blockToken) {
          state.blockToken = false;
          return json(res, 200, { status: 1111, wait: 5, source: 'x5', punish: 'deny', uuid: 'x' });
        }
        if (!body || body.appKey !== appKey || body.appSecret !== appSecret) return json(res, 400, { code: 'invalidClientIdOrSecret', message: '无效的clientId或者clientSecret' });
        const token = crypto.randomBytes(16).toString('hex');
        state.tokens.add(token);
        return json(res, 200, { accessToken: token, expireIn: 7200 });
      }
      const token = q.access_token || req.headers['x-acs-dingtalk-access-token'];
      const v1 = url.pathname.startsWith('/v1.0/');
      state.calls.push({ method: req.method, path: url.pathname, query: q, body, token });
      if (state.blockNext) {
        state.blockNext = false;
        return json(res, 200, { status: 1111, wait: 5, source: 'x5', punish: 'deny', uuid: 'x' });
      }
      if (state.expireAll && state.tokens.has(token)) {
        state.expireAll = false;
        state.tokens.clear();
      }
      if (!state.tokens.has(token)) {
        return v1 ? json(res, 400, { code: 'InvalidAuthentication', message: '不合法的access_token' }) : json(res, 200, { errcode: 42001, errmsg: 'access_token超时' });
      }
      if (v1 && state.v1RateLimitNext > 0) {
        state.v1RateLimitNext -= 1;
        return json(res, 403, { code: 'Forbidden.AccessDenied.QpsLimitForAppkeyAndApi', message: 'qps limit' });
      }
      if (!v1 && state.rateLimitNext > 0) {
        state.rateLimitNext -= 1;
        return json(res, 200, { errcode: 90018, errmsg: '当前企业调用该接口的QPS超过限制' });
      }
      // --- APIs ---
      switch (url.pathname) {
        case '/v1.0/contact/users/me':
          return json(res, 200, { nick: '王芳', unionId: 'u1' });
        case '/topapi/v2/user/get':
          return json(res, 200, { errcode: 0, errmsg: 'ok', result: { userid: body && body.userid, name: '王芳' } });
        case '/call_back/get_call_back':
          if (!state.registration) return json(res, 200, { errcode: 71007, errmsg: '回调地址不存在' });
          return json(res, 200, { errcode: 0, errmsg: 'ok', ...state.registration });
        case '/call_back/register_call_back':
        case '/call_back/update_call_back': {
          const update = url.pathname.endsWith('update_call_back');
          if (update && !state.registration) return json(res, 200, { errcode: 71007, errmsg: '回调地址不存在' });
          if (!update && state.registration) return json(res, 200, { errcode: 71006, errmsg: '回调地址已经存在' });
          if (!Array.isArray(body.call_back_tag) || !body.token || !body.aes_key || !body.url) return json(res, 200, { errcode: 71008, errmsg: 'bad request' });
          state.registration = { call_back_tag: body.call_back_tag, token: body.token, aes_key: body.aes_key, url: body.url };
          return json(res, 200, { errcode: 0, errmsg: 'ok' });
        }
        case '/call_back/delete_call_back':
          state.registration = null;
          return json(res, 200, { errcode: 0, errmsg: 'ok' });
        case '/call_back/get_call_back_failed_result': {
          // each read deletes the batch returned by the previous read
          if (state.failedReads > 0) state.failedPages.shift();
          state.failedReads += 1;
          if (state.onFailedRead) state.onFailedRead(state.failedReads);
          const page = state.failedPages[0] || [];
          return json(res, 200, { errcode: 0, errmsg: 'ok', has_more: state.failedPages.length > 1, failed_list: page });
        }
        case '/v1.0/workflow/processInstances': {
          if (state.v1Forbidden) return json(res, 403, { code: 'Forbidden.AccessDenied.AccessTokenPermissionDenied', message: 'no permission' });
          const result = state.instances[q.processInstanceId];
          if (!result) return json(res, 400, { code: 'processInstanceNotExist', message: '审批实例不存在' });
          return json(res, 200, { success: 'true', result });
        }
        case '/topapi/processinstance/get': {
          const result = state.instances[body && body.process_instance_id];
          if (!result) return json(res, 200, { errcode: 88, sub_code: '60011', errmsg: 'no', sub_msg: '实例不存在' });
          return json(res, 200, { errcode: 0, errmsg: 'ok', process_instance: { title: result.title, form_component_values: result.formComponentValues.map((c) => ({ name: c.name, value: c.value })) } });
        }
        default:
          return v1 ? json(res, 404, { code: 'NotFound', message: 'no such API' }) : json(res, 200, { errcode: 404, errmsg: 'no such API' });
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    state,
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

module.exports = { startFakeDingTalk };
