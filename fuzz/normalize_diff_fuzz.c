
/*
 * Differential libFuzzer target for the normalizer's fast path.  Input: as
 * fuzz_answer.h says (a 2-byte selector of status, Content-Type, pinId and
 * status map, then the upstream body).  For every input:
 *
 *   - when the scanner accepts the body, jansson (the parser of record, with
 *     the normalizer's flags) must parse it to an object holding the same
 *     "pinId", "to", "callStatus" and "status": absent, null, a string with
 *     the same bytes, or another scalar, alike;
 *   - the fast path either declines or gives exactly what the jansson path
 *     gives: status, body bytes, callStatus, messageId;
 *   - ngx_http_tfa_resend_normalize(), whichever way it goes, gives what
 *     the jansson path gives.
 *
 * Random bytes are seldom a JSON object, so each input is also used a
 * second way: as a recipe for a flat object (see build_object()), whose
 * keys are mostly the four the scanner reads and whose values are strings
 * of any bytes, number-like runs, literals, raw bytes or nesting, with
 * white space of all kinds between the tokens.  The checks are the same.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_normalize.h"
#include "fuzz_assert.h"
#include "fuzz_answer.h"


static ngx_http_tfa_resend_status_map_t  *map;

/* how often the fast path took an input: a run that never does proves none */
static unsigned long  runs, accepted;

static const char  *spaces[] = { "", " ", "\r\n\t ", "\n" };

static const char  *statuses[] = {
    "PENDING_ACCEPTED", "queued", "XY", " busy ", "DELIVERED", "", "SENT",
    "UNDEFINED"
};

static uint8_t  object[16384];

static const char  *keys[NGX_HTTP_TFA_RESEND_FIELD_COUNT] = {
    "pinId", "to", "callStatus", "status"
};


static void
report(void)
{
    fprintf(stderr, "info: the fast path took %lu of %lu inputs\n",
            accepted, runs);
}


static size_t
put(size_t n, const void *s, size_t len)
{
    if (n + len <= sizeof(object)) {
        memcpy(object + n, s, len);
    }

    return n + len;
}


/*
 * The recipe: members, each a control byte c, then a length byte and that
 * many content bytes.  c & 3 picks the key, "pinId", "to", "callStatus" or
 * "status"; a key used already is replaced by another unless c & 4 (so
 * that duplicates come, but not in most objects).  c >> 3 & 7 picks the
 * value: a string of the content, a number made of "0123456789-.eE+" from
 * it, true or false, null, the content raw, a status name, the content as
 * printable ASCII in a string, or a nested object; the kinds that are
 * mostly invalid or declined come only when the length byte has 0x60
 * clear, else a valid number or a near kind, so that most objects are
 * ones the fast path takes.  c >> 6 picks the white space around the
 * tokens.  Returns the object's length, 0 if too long.
 */

static size_t
build_object(const uint8_t *p, size_t len)
{
    int          used, risky, kind;
    char         other[16];
    size_t       n, i, clen, members;
    uint8_t      c, ch;
    const char  *ws, *s;

    static const char  *quoted[] = {
        "\"pinId\"", "\"to\"", "\"callStatus\"", "\"status\""
    };
    static const char   numeric[] = "0123456789-.eE+";

    used = 0;
    members = 0;

    n = put(0, "{", 1);

    while (len >= 2) {
        c = p[0];
        clen = p[1] % 24;
        risky = (p[1] & 0x60) == 0;
        p += 2;
        len -= 2;

        if (clen > len) {
            clen = len;
        }

        ws = spaces[c >> 6];

        if (members++) {
            n = put(n, ",", 1);
        }

        n = put(n, ws, strlen(ws));

        if ((used & (1 << (c & 3))) && !(c & 4)) {
            snprintf(other, sizeof(other), "\"k%zu\"", members);
            n = put(n, other, strlen(other));

        } else {
            used |= 1 << (c & 3);
            n = put(n, quoted[c & 3], strlen(quoted[c & 3]));
        }

        n = put(n, ws, strlen(ws));
        n = put(n, ":", 1);
        n = put(n, ws, strlen(ws));

        kind = (c >> 3) & 7;

        if (!risky && kind == 0) {
            kind = 6;

        } else if (!risky && kind == 4) {
            kind = 3;

        } else if (!risky && kind == 7) {
            kind = 5;
        }

        switch (kind) {

        case 0:
            n = put(n, "\"", 1);
            n = put(n, p, clen);
            n = put(n, "\"", 1);
            break;

        case 1:
            if (risky) {
                for (i = 0; i < clen || i == 0; i++) {
                    ch = clen ? p[i] : 0;
                    n = put(n, &numeric[ch % (sizeof(numeric) - 1)], 1);
                }

                break;
            }

            /* a valid number: -?(0|[1-9][0-9]*)(\.[0-9]+)? */

            if (c & 4) {
                n = put(n, "-", 1);
            }

            for (i = 0; i < clen || i == 0; i++) {
                ch = '0' + (clen ? p[i] : 0) % 10;

                if (i == 0 && ch == '0' && clen > 1) {
                    ch = '1';
                }

                if (i && i == clen / 2 && (p[0] & 1)) {
                    n = put(n, ".", 1);
                }

                n = put(n, &ch, 1);
            }
            break;

        case 2:
            s = (clen & 1) ? "true" : "false";
            n = put(n, s, strlen(s));
            break;

        case 3:
            n = put(n, "null", 4);
            break;

        case 4:
            n = put(n, p, clen);
            break;

        case 5:
            s = statuses[(clen ? p[0] : 0) % 8];
            n = put(n, "\"", 1);
            n = put(n, s, strlen(s));
            n = put(n, "\"", 1);
            break;

        case 6:
            n = put(n, "\"", 1);

            for (i = 0; i < clen; i++) {
                ch = 0x20 + p[i] % 0x5f;
                ch = (ch == '"' || ch == '\\') ? '_' : ch;
                n = put(n, &ch, 1);
            }

            n = put(n, "\"", 1);
            break;

        default:
            s = (clen & 1) ? "{\"name\":\"SENT\"}" : "[]";
            n = put(n, s, strlen(s));
        }

        n = put(n, ws, strlen(ws));

        p += clen;
        len -= clen;
    }

    n = put(n, "}", 1);

    if (len) {
        /* a last odd byte: something after the object */
        n = put(n, p, 1);
    }

    return n > sizeof(object) ? 0 : n;
}


static void
check_same(const ngx_http_tfa_resend_canonical_t *a,
    const ngx_http_tfa_resend_canonical_t *b)
{
    fuzz_assert(a->status == b->status);
    fuzz_assert(a->body_len == b->body_len
                && memcmp(a->body, b->body, a->body_len) == 0);
    fuzz_assert(strcmp(a->call_status, b->call_status) == 0);
    fuzz_assert((a->message_id == NULL) == (b->message_id == NULL));

    if (a->message_id) {
        fuzz_assert(a->message_id_len == b->message_id_len
                    && memcmp(a->message_id, b->message_id,
                              a->message_id_len) == 0);
    }
}


/* what the scanner read must be what jansson reads */

static void
check_scan(const uint8_t *body, size_t len)
{
    int                           i;
    json_t                       *root, *v;
    json_error_t                  error;
    ngx_http_tfa_resend_field_t   f[NGX_HTTP_TFA_RESEND_FIELD_COUNT];

    if (!ngx_http_tfa_resend_scan(body, len, f)) {
        return;
    }

    root = json_loadb((const char *) body, len,
                      JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    fuzz_assert(json_is_object(root));

    for (i = 0; i < NGX_HTTP_TFA_RESEND_FIELD_COUNT; i++) {
        v = json_object_get(root, keys[i]);

        switch (f[i].type) {

        case NGX_HTTP_TFA_RESEND_JSON_ABSENT:
            fuzz_assert(v == NULL);
            break;

        case NGX_HTTP_TFA_RESEND_JSON_NULL:
            fuzz_assert(json_is_null(v));
            break;

        case NGX_HTTP_TFA_RESEND_JSON_STRING:
            fuzz_assert(json_is_string(v));
            fuzz_assert(json_string_length(v) == f[i].len
                        && memcmp(json_string_value(v), f[i].data, f[i].len)
                           == 0);
            break;

        case NGX_HTTP_TFA_RESEND_JSON_OTHER:
            fuzz_assert(json_is_number(v) || json_is_boolean(v));
            break;

        default:
            fuzz_assert(0);
        }
    }

    json_decref(root);
}


static void
check_answer(ngx_http_tfa_resend_answer_t *in)
{
    int                               rc;
    ngx_http_tfa_resend_canonical_t   fast, slow;

    check_scan(in->body, in->body_len);

    fuzz_assert(ngx_http_tfa_resend_normalize_jansson(in, &slow) == 0);

    rc = ngx_http_tfa_resend_normalize_fast(in, &fast);
    fuzz_assert(rc == 0 || rc == 1);

    runs++;

    if (rc == 0) {
        accepted++;
        check_same(&fast, &slow);
        ngx_http_tfa_resend_canonical_free(&fast);
    }

    fuzz_assert(ngx_http_tfa_resend_normalize(in, &fast) == 0);
    check_same(&fast, &slow);
    ngx_http_tfa_resend_canonical_free(&fast);

    ngx_http_tfa_resend_canonical_free(&slow);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned                       sel;
    ngx_http_tfa_resend_answer_t   in;

    if (map == NULL) {
        map = fuzz_status_map();
        atexit(report);
    }

    if (size < 2) {
        return 0;
    }

    sel = fuzz_answer(data, size, map, &in);

    check_answer(&in);

    /* the same bytes as a recipe, for a success status */

    in.status = 200 + (sel & 0x30);
    in.body = object;
    in.body_len = build_object(data + 2, size - 2);

    if (in.body_len) {
        check_answer(&in);
    }

    return 0;
}
