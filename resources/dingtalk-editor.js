/*
 * Editor code shared by the dialogs of @dingtalk-hub/node-red-dingtalk.
 *
 * Node-RED serves this package's resources/ folder at resources/@dingtalk-hub/node-red-dingtalk/; every node's
 * html that uses the library loads it with <script src="resources/@dingtalk-hub/node-red-dingtalk/dingtalk-editor.js">
 * and Node-RED runs the html's own scripts only once it has loaded. Each html loads it (so each can rely on it
 * alone), hence the library is defined by the first load and later loads leave it as it is.
 *
 * Messages stay in each node's locales: functions that show text take the node's translate function.
 */
window.DingTalkEditor = window.DingTalkEditor || (function () {
    'use strict';

    // What the editor puts in a password input when a saved credential exists (never the secret).
    var SAVED_PLACEHOLDER = '__PWRD__';
    var AES_KEY_PATTERN = /^[A-Za-z0-9+\/]{43}$/;
    var TOKEN_PATTERN = /^[\x21-\x7e]{1,64}$/;
    var LIST_SEPARATOR = /[\s,，;；]+/;
    var MESSAGE_KINDS = ['error', 'warning', 'hint'];

    /** The translate function of one node type: t('a.b') is <type>.a.b in that node's messages. */
    function translator(type) {
        return function (key, params) {
            var def = RED.nodes.getType(type);
            return (def && def._) ? def._(type + '.' + key, params) : key;
        };
    }

    /** A validator result: true, or (with opt, the 3.x form) the message, else false. */
    function verdict(problem, opt) {
        if (!problem) {
            return true;
        }
        return opt ? problem : false;
    }

    /* ---------- credentials ---------- */

    function isUnsetOrSaved(value) {
        return value === undefined || value === null || value === '' || value === SAVED_PLACEHOLDER;
    }

    /** '' when the callback token is unset, saved or valid, else the node's validation.token message. */
    function tokenProblem(value, t) {
        return (isUnsetOrSaved(value) || TOKEN_PATTERN.test(value)) ? '' : t('validation.token');
    }

    /** '' when the aesKey is unset, saved or valid, else the node's validation.aes-key message. */
    function aesKeyProblem(value, t) {
        return (isUnsetOrSaved(value) || AES_KEY_PATTERN.test(value)) ? '' : t('validation.aes-key', { length: value.length });
    }

    /**
     * Password inputs with a show/hide button and a message line under each.
     * fields: name -> { input, toggle, message (jQuery), check(value) -> { kind, text } or null }; check is
     * asked about typed values only: a saved value shows the node's tip.saved while revealed.
     * options: { t: the node's translate function (button.show, button.hide, tip.saved, tip.saved-hidden),
     *            css: prefix of the message classes (<css>-error, <css>-warning, <css>-hint) }.
     * A saved credential is in the input as the editor's placeholder "__PWRD__" (the secret never reaches the
     * editor). Revealed, it would read "__PWRD__": the input is emptied instead and its placeholder says
     * tip.saved-hidden ("saved (hidden)"). Until something is typed it still stands for the saved value:
     * hiding the input puts "__PWRD__" back, and so must restoreSaved(), which the node's oneditsave calls
     * (Node-RED reads the inputs after oneditsave; an empty input would delete the saved credential).
     * Returns { isRevealed(name), isSaved(name), value(name), reveal(name, visible), check(name), checkAll(),
     *           generate($button, makers), restoreSaved(), onChange(listener) }.
     */
    function secretFields(fields, options) {
        var t = options.t;
        var classes = MESSAGE_KINDS.map(function (kind) { return options.css + '-' + kind; }).join(' ');
        var listeners = [];

        function isRevealed(name) {
            return fields[name].input.attr('type') === 'text';
        }

        /** Whether the field stands for a saved value (shown as the placeholder, or revealed and untouched). */
        function isSaved(name) {
            var f = fields[name];
            return f.input.val() === SAVED_PLACEHOLDER || (f.keepSaved === true && f.input.val() === '');
        }

        /** The value typed or generated in this dialog; '' for a saved or empty one. */
        function value(name) {
            return isSaved(name) ? '' : fields[name].input.val();
        }

        function changed(name) {
            listeners.forEach(function (listener) {
                listener(name);
            });
        }

        /** Ends the "saved (hidden)" state: the input shows its own placeholder again. */
        function forgetSaved(name) {
            var f = fields[name];
            if (f.keepSaved) {
                f.keepSaved = false;
                f.input.attr('placeholder', f.ownPlaceholder || null);
            }
        }

        function restoreSaved() {
            Object.keys(fields).forEach(function (name) {
                var f = fields[name];
                if (f.keepSaved && f.input.val() === '') {
                    forgetSaved(name);
                    f.input.val(SAVED_PLACEHOLDER);
                }
            });
        }

        function reveal(name, visible) {
            var f = fields[name];
            if (visible && f.input.val() === SAVED_PLACEHOLDER) {
                f.keepSaved = true;
                f.ownPlaceholder = f.input.attr('placeholder');
                f.input.val('').attr('placeholder', t('tip.saved-hidden'));
            } else if (!visible && f.keepSaved && f.input.val() === '') {
                forgetSaved(name);
                f.input.val(SAVED_PLACEHOLDER);
            }
            f.input.attr('type', visible ? 'text' : 'password');
            f.toggle.find('i').toggleClass('fa-eye', !visible).toggleClass('fa-eye-slash', visible);
            f.toggle.attr('title', t(visible ? 'button.hide' : 'button.show'));
        }

        function show(name, message) {
            var $message = fields[name].message;
            $message.removeClass(classes);
            if (message && message.text) {
                $message.addClass(options.css + '-' + message.kind).text(message.text).show();
            } else {
                $message.text('').hide();
            }
        }

        function check(name) {
            if (isSaved(name)) {
                show(name, { kind: 'hint', text: isRevealed(name) ? t('tip.saved') : '' });
            } else {
                show(name, fields[name].check(fields[name].input.val()));
            }
            changed(name);
        }

        function checkAll() {
            Object.keys(fields).forEach(check);
        }

        /** A button that fills fields with fresh values (makers: name -> function returning one); off without crypto. */
        function generate($button, makers) {
            if (!(window.crypto && typeof window.crypto.getRandomValues === 'function')) {
                $button.prop('disabled', true);
            }
            $button.on('click', function (event) {
                event.preventDefault();
                Object.keys(makers).forEach(function (name) {
                    forgetSaved(name);
                    fields[name].input.val(makers[name]());
                    reveal(name, true);
                });
                // 'change' also runs the editor's own validation of the credentials.
                Object.keys(makers).forEach(function (name) {
                    fields[name].input.trigger('change');
                });
            });
        }

        Object.keys(fields).forEach(function (name) {
            reveal(name, false);
            // Typing (or pasting, cutting) replaces the saved value, even with nothing.
            fields[name].input.on('input', function () {
                forgetSaved(name);
            });
            fields[name].input.on('change keyup input paste', function () {
                check(name);
            });
            fields[name].toggle.on('click', function (event) {
                event.preventDefault();
                reveal(name, !isRevealed(name));
                check(name);
            });
        });

        return {
            isRevealed: isRevealed,
            isSaved: isSaved,
            value: value,
            reveal: reveal,
            check: check,
            checkAll: checkAll,
            generate: generate,
            restoreSaved: restoreSaved,
            onChange: function (listener) { listeners.push(listener); }
        };
    }

    /** A copy-to-clipboard button for text(); hidden in editors without RED.clipboard. Empty text copies nothing. */
    function copyButton($button, text) {
        if (!(RED.clipboard && typeof RED.clipboard.copyText === 'function')) {
            $button.hide();
            return;
        }
        $button.on('click', function (event) {
            event.preventDefault();
            var value = text();
            if (value) {
                RED.clipboard.copyText(value, $button, 'clipboard.copyMessageValue');
            }
        });
    }

    /* ---------- addresses ---------- */

    /**
     * httpNodeRoot without its trailing slash ('' for the default '/'); null when HTTP nodes are disabled.
     * The editor's /settings reports `httpNodeRoot || "/"`, so a runtime with `httpNodeRoot: false` also
     * exports the node setting dingtalkEventInHttpDisabled (true) to make that case visible here.
     */
    function httpNodeRoot() {
        var root = RED.settings.httpNodeRoot;
        if (root === false || RED.settings.dingtalkEventInHttpDisabled === true) {
            return null;
        }
        if (typeof root !== 'string' || root === '') {
            root = '/';
        }
        return root.replace(/\/+$/, '');
    }

    /** The address DingTalk pushes to for a receiver path, as this browser reaches Node-RED (root: httpNodeRoot()). */
    function callbackUrl(root, path) {
        return location.origin + (root || '') + (path.charAt(0) === '/' ? path : '/' + path);
    }

    /** Distinct paths of the receivers (dingtalk-event-in) in the workspace that use the app `appId`. */
    function receiverPaths(appId) {
        var paths = [];
        RED.nodes.eachNode(function (n) {
            if (n.type === 'dingtalk-event-in' && n.app === appId && typeof n.url === 'string' && n.url && paths.indexOf(n.url) === -1) {
                paths.push(n.url);
            }
        });
        return paths;
    }

    /** True for an http:// or https:// URL with a host. */
    function isHttpUrl(value) {
        var text = typeof value === 'string' ? value.trim() : '';
        try {
            var url = new URL(text);
            return (url.protocol === 'http:' || url.protocol === 'https:') && !!url.hostname;
        } catch (err) {
            return false; // not a URL
        }
    }

    /** POST of a JSON body to an admin endpoint (relative URL, so httpAdminRoot prefixes work); the jqXHR. */
    function postJson(url, body) {
        return $.ajax({
            url: url,
            method: 'POST',
            contentType: 'application/json',
            data: JSON.stringify(body)
        });
    }

    /* ---------- event catalogue and texts ---------- */

    /** A catalogue label ({'en-US', 'zh-CN'} or a string) in the editor's language, else en-US. */
    function pickLabel(label) {
        if (typeof label === 'string') {
            return label;
        }
        if (label && typeof label === 'object') {
            var lang = (RED.i18n && typeof RED.i18n.lang === 'function') ? RED.i18n.lang() : '';
            return label[/^zh/i.test(lang || '') ? 'zh-CN' : 'en-US'] || label['en-US'] || '';
        }
        return '';
    }

    /**
     * The event catalogue (admin endpoint GET dingtalk-event-switch/catalogue) as one node type indexes it,
     * fetched once per editor session: index(data) returns the node's form, null when nothing usable came, and
     * then (as after a failed request) the next load() asks again.
     * Returns { data, state (idle | loading | loaded | failed), load(callback) }; callback runs once loaded or failed.
     */
    function catalogueLoader(type, index) {
        var loader = { data: null, state: 'idle', load: load };
        var waiters = [];

        function load(callback) {
            if (loader.state === 'loaded') {
                callback();
                return;
            }
            waiters.push(callback);
            if (loader.state === 'loading') {
                return;
            }
            loader.state = 'loading';
            $.getJSON('dingtalk-event-switch/catalogue').done(function (data) {
                loader.data = index(data);
                loader.state = loader.data ? 'loaded' : 'failed';
            }).fail(function () {
                loader.state = 'failed';
            }).always(function () {
                var waiting = waiters;
                waiters = [];
                waiting.forEach(function (waiter) {
                    try {
                        waiter();
                    } catch (err) {
                        console.warn(type + ':', err);
                    }
                });
            });
        }

        return loader;
    }

    /* ---------- texts in the editor's language ---------- */

    /**
     * A message key in the editor's language: "<type>.a.b" from that node type's catalogue, or a key named with
     * its full namespace ("<package>/<node file>:<type>.a.b"). An unknown key comes back as it is.
     */
    function translate(key, params) {
        if (key.indexOf(':') >= 0) {
            return RED._(key, params);
        }
        var def = RED.nodes.getType(key.split('.')[0]);
        return (def && def._) ? def._(key, params) : key;
    }

    /** A Text of the runtime ({key, params}, a parameter may be a Text itself) in the editor's language. */
    function textOf(value) {
        if (!value || typeof value !== 'object' || typeof value.key !== 'string') {
            return value === undefined || value === null ? '' : String(value);
        }
        var params = {};
        Object.keys(value.params || {}).forEach(function (name) {
            var param = value.params[name];
            params[name] = (param && typeof param === 'object') ? textOf(param) : param;
        });
        return translate(value.key, params);
    }

    /** True when the editor has a message for key. */
    function hasText(key) {
        return translate(key, {}) !== key;
    }

    function escapeHtml(text) {
        return String(text).replace(/[&<>"']/g, function (c) {
            return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
        });
    }

    /** RED.notify of a Text (RED.notify takes HTML: the text is escaped). */
    function notifyText(value, options) {
        return RED.notify(escapeHtml(textOf(value)), options);
    }

    /**
     * The Text of an admin route's failure: its answer {error, params} as the message <prefix>.<error>, or
     * when the editor has no such message (no answer, another server), fallbackKey with the HTTP status.
     */
    function failureText(xhr, prefix, fallbackKey) {
        var body = (xhr && xhr.responseJSON) || {};
        if (typeof body.error === 'string' && hasText(prefix + '.' + body.error)) {
            return { key: prefix + '.' + body.error, params: body.params || {} };
        }
        return { key: fallbackKey, params: { status: xhr ? xhr.status : 0, code: typeof body.error === 'string' ? body.error : '' } };
    }

    /**
     * A node's test button (event in, stream in, dispatch): POST <type>/<id>/test with body, the outcome in a
     * notification in the editor's language: success(answer) gives the Text on success; a failure reads
     * <type>.test.failed with the reason <type>.test.errors.<error>. A node changed since the deploy is not
     * asked for: the runtime would test the deployed one.
     */
    function runTest(node, body, success) {
        if (node.changed) {
            RED.notify(RED._('notification.warning', { message: RED._('notification.warnings.undeployedChanges') }), 'warning');
            return;
        }
        var type = node.type;
        var options = { id: type + '-test-' + node.id }; // a node's next result replaces its last one
        postJson(type + '/' + encodeURIComponent(node.id) + '/test', body).done(function (answer) {
            options.type = 'success';
            notifyText(success(answer || {}), options);
        }).fail(function (xhr) {
            options.type = 'error';
            var reason = failureText(xhr, type + '.test.errors', type + '.test.errors.http');
            notifyText({ key: type + '.test.failed', params: { message: reason } }, options);
        });
    }

    /*
     * Node statuses in the editor's language. The runtime shows each status of this package's nodes as text in
     * its own language (for status nodes and editors without this script) and publishes it again on the comms
     * topic dingtalk-hub/status/<node id> as {text, key, params}, retained (src/nodes/editor-text.ts). The text
     * of a node's status is replaced by the translation when it is that very text: the two messages may come in
     * either order, and the retained ones come again whenever the editor (re)subscribes.
     */
    var STATUS_TOPIC = 'dingtalk-hub/status/';
    var published = {};

    function translateStatus(id, status) {
        var entry = published[id];
        if (!entry || !status || status.text !== entry.text) {
            return false;
        }
        status.text = textOf(entry);
        return true;
    }

    function redrawStatus(node) {
        node.dirtyStatus = true;
        node.dirty = true;
        RED.view.redrawStatus(node);
    }

    function watchStatuses() {
        if (!(RED.comms && typeof RED.comms.subscribe === 'function')) {
            return;
        }
        RED.comms.subscribe(STATUS_TOPIC + '#', function (topic, data) {
            var id = topic.substring(STATUS_TOPIC.length);
            if (!data || typeof data.key !== 'string') {
                delete published[id];
                return;
            }
            published[id] = data;
            var node = RED.nodes.node(id);
            if (node && translateStatus(id, node.status)) {
                redrawStatus(node);
            }
        });
        // Called with the same object as the editor's own status handler, before or after it.
        RED.comms.subscribe('status/#', function (topic, status) {
            var id = topic.split('/')[1];
            if (translateStatus(id, status)) {
                var node = RED.nodes.node(id);
                if (node && node.status === status) {
                    redrawStatus(node);
                }
            }
        });
    }

    watchStatuses();

    /** Splits free text into a list: commas, semicolons (also full-width) and white space separate items; no repeats. */
    function splitList(text) {
        var seen = {};
        return String(text || '').split(LIST_SEPARATOR).filter(function (item) {
            if (!item || seen[item]) {
                return false;
            }
            seen[item] = true;
            return true;
        });
    }

    /** Text on one line, cut to length characters with an ellipsis. */
    function clip(text, length) {
        text = String(text === undefined || text === null ? '' : text).replace(/\s+/g, ' ').trim();
        return text.length > length ? text.substring(0, length - 1) + '…' : text;
    }

    return {
        SAVED_PLACEHOLDER: SAVED_PLACEHOLDER,
        AES_KEY_PATTERN: AES_KEY_PATTERN,
        TOKEN_PATTERN: TOKEN_PATTERN,
        translator: translator,
        verdict: verdict,
        isUnsetOrSaved: isUnsetOrSaved,
        tokenProblem: tokenProblem,
        aesKeyProblem: aesKeyProblem,
        secretFields: secretFields,
        copyButton: copyButton,
        httpNodeRoot: httpNodeRoot,
        callbackUrl: callbackUrl,
        receiverPaths: receiverPaths,
        isHttpUrl: isHttpUrl,
        postJson: postJson,
        pickLabel: pickLabel,
        catalogueLoader: catalogueLoader,
        splitList: splitList,
        clip: clip,
        translate: translate,
        textOf: textOf,
        hasText: hasText,
        escapeHtml: escapeHtml,
        notifyText: notifyText,
        failureText: failureText,
        runTest: runTest
    };
})();
