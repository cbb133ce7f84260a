// The benchmark's njs peer of ngx_http_tfa_resend_module: the rewrite of
// the upstream's answer to the canonical body, for comparison only.  The
// checks, the limit and the credentials are nginx's own directives in
// bench/conf/njs.conf.
//
// njs runs every request in its own copy of the VM, so the module-level
// variables below are per-request state.

var chunks = [];
var upstream = false;

var EXACT = {
    BAD_REQUEST: 'BAD_REQUEST', PROCESSING: 'PROCESSING',
    PROCESSED: 'PROCESSED', ANSWERED_MACHINE: 'ANSWERED_MACHINE',
    ERROR: 'ERROR', ERROR_NOT_ENOUGH_CREDITS: 'ERROR_NOT_ENOUGH_CREDITS',
    ERROR_NETWORK_NOT_AVAILABLE: 'ERROR_NETWORK_NOT_AVAILABLE',
    ERROR_ROUTE_NOT_AVAILABLE: 'ERROR_ROUTE_NOT_AVAILABLE',
    ERROR_USER_BUSY: 'ERROR_USER_BUSY', ERROR_NO_ANSWER: 'ERROR_NO_ANSWER',
    UNDEFINED: 'UNDEFINED',

    PENDING: 'PROCESSING', ACCEPTED: 'PROCESSING',
    MESSAGE_SENT: 'PROCESSING', SENT: 'PROCESSING',
    DELIVERED: 'PROCESSED', ANSWERED: 'PROCESSED',
    ANSWERED_HUMAN: 'PROCESSED', COMPLETED: 'PROCESSED',
    MACHINE: 'ANSWERED_MACHINE', ANSWERED_BY_MACHINE: 'ANSWERED_MACHINE',
    VOICEMAIL: 'ANSWERED_MACHINE',
    INSUFFICIENT_FUNDS: 'ERROR_NOT_ENOUGH_CREDITS',
    NO_ROUTE: 'ERROR_ROUTE_NOT_AVAILABLE',
    BUSY: 'ERROR_USER_BUSY'
};

var PREFIXES = [
    ['PENDING_', 'PROCESSING'], ['DELIVERED_', 'PROCESSED'],
    ['UNDELIVERABLE', 'ERROR'], ['REJECTED', 'ERROR'],
    ['EXPIRED', 'ERROR'], ['FAILED', 'ERROR']
];

var INFIXES = [
    ['NOT_ENOUGH_CREDITS', 'ERROR_NOT_ENOUGH_CREDITS'],
    ['NETWORK_NOT_AVAILABLE', 'ERROR_NETWORK_NOT_AVAILABLE'],
    ['NETWORK_NOT_ALLOWED', 'ERROR_NETWORK_NOT_AVAILABLE'],
    ['ROUTE_NOT_AVAILABLE', 'ERROR_ROUTE_NOT_AVAILABLE'],
    ['USER_BUSY', 'ERROR_USER_BUSY'],
    ['NO_ANSWER', 'ERROR_NO_ANSWER']
];

var BY_STATUS = {
    400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN',
    404: 'NOT_FOUND', 405: 'METHOD_NOT_ALLOWED', 413: 'REQUEST_TOO_LARGE',
    429: 'TOO_MANY_REQUESTS'
};

var BY_CODE = {
    E400: 'BAD_REQUEST', E401: 'UNAUTHORIZED', E403: 'FORBIDDEN',
    E404: 'NOT_FOUND', E429: 'TOO_MANY_REQUESTS', E500: 'GENERAL_ERROR'
};

var MAX_BODY = 65536;


function mapStatus(v) {
    var i, c;

    if (v !== null && typeof v === 'object') {
        v = (typeof v.name === 'string') ? v.name : v.groupName;
    }

    if (typeof v !== 'string') {
        return null;
    }

    v = v.trim().toUpperCase();

    c = EXACT[v];
    if (c) {
        return c;
    }

    for (i = 0; i < PREFIXES.length; i++) {
        if (v.startsWith(PREFIXES[i][0])) {
            return PREFIXES[i][1];
        }
    }

    for (i = 0; i < INFIXES.length; i++) {
        if (v.indexOf(INFIXES[i][0]) !== -1) {
            return INFIXES[i][1];
        }
    }

    return 'UNDEFINED';
}


function str(v) {
    return (typeof v === 'string') ? JSON.stringify(v) : 'null';
}


function statusMessageId(status) {
    return BY_STATUS[status] || (status < 500 ? 'BAD_REQUEST'
                                              : 'GENERAL_ERROR');
}


function errorJson(messageId, text) {
    return '{"serviceException":{"messageId":' + str(messageId)
           + ',"text":' + str(text) + '}}';
}


function requestError(doc, status, body) {
    var se, out, text;

    if (doc !== null && typeof doc === 'object') {
        se = doc.requestError && doc.requestError.serviceException;
        if (se !== null && typeof se === 'object') {
            out = '{"serviceException":{"messageId":' + str(se.messageId)
                  + ',"text":' + str(se.text);
            if (se.validationErrors !== null
                && typeof se.validationErrors === 'object')
            {
                out += ',"validationErrors":'
                       + JSON.stringify(se.validationErrors);
            }
            return out + '}}';
        }

        if (typeof doc.errorCode === 'string') {
            return errorJson(BY_CODE[doc.errorCode] || doc.errorCode,
                             doc.description);
        }

        text = (typeof doc.error === 'string') ? doc.error : doc.message;
        if (typeof text === 'string') {
            return errorJson(statusMessageId(status), text);
        }

    } else if (body.length > 0 && body.length <= 256) {
        return errorJson(statusMessageId(status),
                         body.replace(/[\x00-\x1f\x7f]/g, ''));
    }

    return errorJson(statusMessageId(status), null);
}


function canonical(body, status, pin) {
    var doc = null, cs, call = null;

    try {
        doc = JSON.parse(body);
    } catch (e) {
        doc = null;
    }

    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
        if (status < 400 || body.length > 256) {
            return '{"pinId":' + str(pin) + ',"to":null,"callStatus":"ERROR"'
                   + ',"requestError":'
                   + errorJson('UPSTREAM_ERROR',
                               'Unusable answer from upstream') + '}';
        }
        doc = null;
    }

    if (doc) {
        cs = (doc.callStatus !== undefined) ? doc.callStatus : doc.status;
        call = mapStatus(cs);
        if (typeof doc.pinId === 'string') {
            pin = doc.pinId;
        }
    }

    if (status < 400) {
        return '{"pinId":' + str(pin) + ',"to":' + str(doc.to)
               + ',"callStatus":"' + (call || 'UNDEFINED') + '"}';
    }

    if (!call) {
        call = (status < 500) ? 'BAD_REQUEST' : 'ERROR';
    }

    return '{"pinId":' + str(pin) + ',"to":' + str(doc ? doc.to : null)
           + ',"callStatus":"' + call + '","requestError":'
           + requestError(doc, status, body) + '}';
}


function header_filter(r) {
    // nginx's own answers (limit_req, the checks) are made canonical by
    // their error_page locations; only the upstream's answer is rewritten
    upstream = r.variables.upstream_addr !== undefined
               && r.variables.upstream_addr !== '';

    if (!upstream) {
        return;
    }

    delete r.headersOut['Content-Length'];
    delete r.headersOut['Content-Encoding'];
    delete r.headersOut['ETag'];
    r.headersOut['Content-Type'] = 'application/json';
}


function body_filter(r, data, flags) {
    if (!upstream) {
        r.sendBuffer(data, flags);
        return;
    }

    chunks.push(data);

    if (!flags.last) {
        return;
    }

    var body = (chunks.length === 1) ? chunks[0] : chunks.join('');

    if (body.length > MAX_BODY) {
        body = '';
    }

    r.sendBuffer(canonical(body, r.status, r.variables.tfa_pin),
                 {last: true});
}


export default {header_filter, body_filter};
