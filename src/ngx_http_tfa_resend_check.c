
/*
 * Request checks: path shape, pinId case, pinId pattern, request body,
 * credentials text.
 * No nginx headers here (see the header).
 */


#define PCRE2_CODE_UNIT_WIDTH  8

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <pcre2.h>

#include "ngx_http_tfa_resend_check.h"


struct ngx_http_tfa_resend_pattern_s {
    pcre2_code        *code;
    pcre2_match_data  *match_data;
    int                jit;        /* compiled to machine code */
};


static void ngx_http_tfa_resend_set_reason(char *reason, size_t reason_len,
    const char *text);
static size_t ngx_http_tfa_resend_tail_shape(const unsigned char *path,
    size_t len, size_t *pin_off);
static int ngx_http_tfa_resend_has_resend_voice(const unsigned char *path,
    size_t len);


#define NGX_HTTP_TFA_RESEND_LOWER(c)                                         \
    (((c) >= 'A' && (c) <= 'Z') ? (unsigned char) ((c) | 0x20) : (c))


static void
ngx_http_tfa_resend_set_reason(char *reason, size_t reason_len,
    const char *text)
{
    if (reason == NULL || reason_len == 0) {
        return;
    }

    snprintf(reason, reason_len, "%s", text);
}


int
ngx_http_tfa_resend_parse_uri(const unsigned char *uri, size_t len,
    const unsigned char **pin, size_t *pin_len)
{
    size_t                    plen, slen;
    const unsigned char      *p, *last;
    static const char         prefix1[] = "/2fa/1/pin/";
    static const char         prefix2[] = "/2fa/2/pin/";
    static const char         suffix[] = "/resend/voice";

    plen = sizeof(prefix1) - 1;
    slen = sizeof(suffix) - 1;

    if (uri == NULL || len < plen + slen) {
        return 0;
    }

    if (memcmp(uri, prefix1, plen) != 0 && memcmp(uri, prefix2, plen) != 0) {
        return 0;
    }

    if (memcmp(uri + len - slen, suffix, slen) != 0) {
        return 0;
    }

    /* the pinId is one segment: a '/' inside means extra segments */

    p = uri + plen;
    last = uri + len - slen;

    if (memchr(p, '/', last - p) != NULL) {
        return 0;
    }

    if (pin) {
        *pin = p;
    }

    if (pin_len) {
        *pin_len = last - p;
    }

    return 1;
}


ngx_http_tfa_resend_path_e
ngx_http_tfa_resend_match_path(const unsigned char *path, size_t len,
    ngx_http_tfa_resend_path_t *m)
{
    size_t                      tail, pin_off;
    ngx_http_tfa_resend_path_e  rc;
    ngx_http_tfa_resend_path_t  dummy;

    if (m == NULL) {
        m = &dummy;
    }

    memset(m, 0, sizeof(ngx_http_tfa_resend_path_t));

    if (path == NULL || len == 0) {
        return NGX_HTTP_TFA_RESEND_PATH_OTHER;
    }

    tail = ngx_http_tfa_resend_tail_shape(path, len, &pin_off);

    /*
     * The prefix is what a location mount or a rewrite put in front of the
     * API's path; one that does not start with '/' cannot come from nginx.
     */

    if (tail && (tail == len || path[0] == '/')) {
        if (pin_off < len - (sizeof("/resend/voice") - 1)) {
            m->prefix_len = len - tail;
            m->pin_off = pin_off;
            m->pin_len = len - (sizeof("/resend/voice") - 1) - pin_off;
            return NGX_HTTP_TFA_RESEND_PATH_EXACT;
        }

        /* the answer a pinId that fails the pattern check gets, too */

        m->reason = "invalid pinId";
        return NGX_HTTP_TFA_RESEND_PATH_NEAR_MISS;
    }

    /*
     * An upstream router that ignores case, merges slashes, strips a
     * trailing slash or a path parameter may take any of these for the
     * resend call: so they are refused, never passed on unchecked.
     */

    rc = NGX_HTTP_TFA_RESEND_PATH_OTHER;

    if (ngx_http_tfa_resend_has_resend_voice(path, len)) {
        m->reason = "not a resend path: "
                    "/2fa/{1|2}/pin/{pinId}/resend/voice expected";
        rc = NGX_HTTP_TFA_RESEND_PATH_NEAR_MISS;
    }

    return rc;
}


/*
 * Returns the length of the "/2fa/{1|2}/pin/{pinId}/resend/voice" the path
 * ends with, the pinId possibly empty, and sets *pin_off; returns 0 if the
 * path does not end that way.
 */

static size_t
ngx_http_tfa_resend_tail_shape(const unsigned char *path, size_t len,
    size_t *pin_off)
{
    size_t                pin_end, start;
    const unsigned char  *p;
    static const char     suffix[] = "/resend/voice";
    static const char     head[] = "/2fa/1/pin/";

    if (len < (sizeof(head) - 1) + (sizeof(suffix) - 1)) {
        return 0;
    }

    pin_end = len - (sizeof(suffix) - 1);

    if (memcmp(path + pin_end, suffix, sizeof(suffix) - 1) != 0) {
        return 0;
    }

    /* the pinId runs back to the nearest '/'; "/pin/" ends right there */

    p = path + pin_end;

    while (p > path && p[-1] != '/') {
        p--;
    }

    if ((size_t) (p - path) < sizeof(head) - 1) {
        return 0;
    }

    start = (p - path) - (sizeof(head) - 1);
    p = path + start;

    if (memcmp(p, "/2fa/", 5) != 0
        || (p[5] != '1' && p[5] != '2')
        || memcmp(p + 6, "/pin/", 5) != 0)
    {
        return 0;
    }

    *pin_off = start + (sizeof(head) - 1);

    return len - start;
}


/*
 * Looks for "/resend/voice" in the path as if its letters were lower case
 * and each run of slashes were one slash, without making that copy: from
 * each slash that starts a run, the text is compared with the needle,
 * skipping the rest of every run of slashes it meets.
 */

static int
ngx_http_tfa_resend_has_resend_voice(const unsigned char *path, size_t len)
{
    size_t             i, j, k;
    static const char  needle[] = "/resend/voice";

    for (i = 0; i < len; i++) {
        if (path[i] != '/' || (i > 0 && path[i - 1] == '/')) {
            continue;
        }

        j = i;

        for (k = 0; k < sizeof(needle) - 1; k++) {
            if (j == len) {
                break;
            }

            if (needle[k] == '/') {
                if (path[j] != '/') {
                    break;
                }

                while (j < len && path[j] == '/') {
                    j++;
                }

                continue;
            }

            if (NGX_HTTP_TFA_RESEND_LOWER(path[j]) != needle[k]) {
                break;
            }

            j++;
        }

        if (k == sizeof(needle) - 1) {
            return 1;
        }
    }

    return 0;
}


unsigned char *
ngx_http_tfa_resend_fold_pin(unsigned char *dst, const unsigned char *src,
    size_t len, ngx_http_tfa_resend_pin_case_e mode)
{
    size_t         i;
    unsigned char  from, c;

    /*
     * ASCII only: toupper() and tolower() would follow the locale.  One
     * loop without a branch a byte, which the compiler can vectorize.
     */

    switch (mode) {

    case NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER:
        from = 'a';
        break;

    case NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER:
        from = 'A';
        break;

    default:
        if (dst != src) {
            memmove(dst, src, len);
        }

        return dst + len;
    }

    for (i = 0; i < len; i++) {
        c = src[i];
        dst[i] = c ^ (((unsigned char) (c - from) < 26) << 5);
    }

    return dst + len;
}


ngx_http_tfa_resend_pattern_t *
ngx_http_tfa_resend_pattern_compile(const unsigned char *re, size_t len,
    char *err, size_t errlen)
{
    return ngx_http_tfa_resend_pattern_compile_ex(re, len, 0, err, errlen);
}


ngx_http_tfa_resend_pattern_t *
ngx_http_tfa_resend_pattern_compile_ex(const unsigned char *re, size_t len,
    int caseless, char *err, size_t errlen)
{
    int                             rc;
    uint32_t                        options, jit;
    PCRE2_SIZE                      erroff;
    PCRE2_UCHAR                     msg[256];
    ngx_http_tfa_resend_pattern_t  *p;

    p = calloc(1, sizeof(ngx_http_tfa_resend_pattern_t));
    if (p == NULL) {
        ngx_http_tfa_resend_set_reason(err, errlen, "out of memory");
        return NULL;
    }

    /*
     * Bytes, not UTF-8: the subjects come from decoded URIs and upstream
     * strings, and a UTF check error must not turn into a match.
     */

    options = PCRE2_DOLLAR_ENDONLY;

    if (caseless) {
        options |= PCRE2_CASELESS;
    }

    p->code = pcre2_compile(re ? re : (const unsigned char *) "", len,
                            options, &rc, &erroff, NULL);
    if (p->code == NULL) {
        if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0) {
            snprintf((char *) msg, sizeof(msg), "error %d", rc);
        }

        if (err && errlen) {
            snprintf(err, errlen, "invalid regex \"%.*s\": %s at offset %zu",
                     (int) (len > 64 ? 64 : len), re ? (char *) re : "",
                     (char *) msg, (size_t) erroff);
        }

        free(p);
        return NULL;
    }

    if (pcre2_config(PCRE2_CONFIG_JIT, &jit) >= 0 && jit) {
        /* a failed JIT compile only costs speed: pcre2_match() interprets */
        p->jit = (pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0);
    }

    /*
     * pcre2_jit_match() skips pcre2_match()'s checks of the subject, which
     * matter only to a pattern that turned UTF on itself with (*UTF)
     */

    if (pcre2_pattern_info(p->code, PCRE2_INFO_ALLOPTIONS, &options) != 0
        || (options & PCRE2_UTF))
    {
        p->jit = 0;
    }

    p->match_data = pcre2_match_data_create_from_pattern(p->code, NULL);
    if (p->match_data == NULL) {
        ngx_http_tfa_resend_set_reason(err, errlen, "out of memory");
        pcre2_code_free(p->code);
        free(p);
        return NULL;
    }

    return p;
}


int
ngx_http_tfa_resend_pattern_match(ngx_http_tfa_resend_pattern_t *p,
    const unsigned char *s, size_t len)
{
    int  rc;

    if (p == NULL) {
        return 0;
    }

    if (s == NULL) {
        s = (const unsigned char *) "";
        len = 0;
    }

    /* a NUL byte would be cut off by whatever C code reads the value later */

    if (len && memchr(s, '\0', len) != NULL) {
        return 0;
    }

    if (p->jit) {
        rc = pcre2_jit_match(p->code, s, len, 0, 0, p->match_data, NULL);

    } else {
        rc = pcre2_match(p->code, s, len, 0, 0, p->match_data, NULL);
    }

    return rc >= 0 ? 1 : 0;
}


void
ngx_http_tfa_resend_pattern_free(ngx_http_tfa_resend_pattern_t *p)
{
    if (p == NULL) {
        return;
    }

    pcre2_match_data_free(p->match_data);
    pcre2_code_free(p->code);
    free(p);
}


int
ngx_http_tfa_resend_check_body(const unsigned char *body, size_t len,
    char *reason, size_t reason_len)
{
    int            rc;
    json_t        *root, *v, *value;
    const char    *key;
    json_error_t   error;

    if (len == 0) {
        return 0;
    }

    /*
     * Duplicate keys are rejected: jansson keeps the last one, another
     * parser upstream may keep the first, and then the value checked here
     * would not be the value used.  JSON_DECODE_ANY lets a scalar through
     * the parser so that it gets the clearer "must be an object" reason.
     * Nesting is bounded by jansson itself (JSON_PARSER_MAX_DEPTH).
     */

    root = json_loadb((const char *) body, len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (root == NULL) {
        ngx_http_tfa_resend_set_reason(reason, reason_len,
                                       "body is not valid JSON");
        return -1;
    }

    rc = -1;

    if (!json_is_object(root)) {
        ngx_http_tfa_resend_set_reason(reason, reason_len,
                                       "body must be a JSON object");
        goto done;
    }

    v = json_object_get(root, "placeholders");
    if (v != NULL) {
        if (!json_is_object(v)) {
            goto bad_placeholders;
        }

        json_object_foreach(v, key, value) {
            if (!json_is_string(value)) {
                goto bad_placeholders;
            }
        }
    }

    v = json_object_get(root, "trackDelivery");
    if (v != NULL && !json_is_boolean(v)) {
        ngx_http_tfa_resend_set_reason(reason, reason_len,
                                       "trackDelivery must be a boolean");
        goto done;
    }

    rc = 0;
    goto done;

bad_placeholders:

    ngx_http_tfa_resend_set_reason(reason, reason_len,
                                   "placeholders must be an object of strings");

done:

    json_decref(root);
    return rc;
}


int
ngx_http_tfa_resend_parse_secret(const unsigned char *data, size_t len,
    int basic, size_t *out_len, char *reason, size_t reason_len)
{
    size_t                n;
    const unsigned char  *p, *colon;

    n = len;

    /* files end with a newline, and editors on some systems add "\r\n" */

    if (n && data[n - 1] == '\n') {
        n--;

        if (n && data[n - 1] == '\r') {
            n--;
        }
    }

    if (n == 0) {
        ngx_http_tfa_resend_set_reason(reason, reason_len,
                                       "credentials are empty");
        return -1;
    }

    /*
     * A control character would end up in a request header; a second
     * newline means more than one line, probably the wrong file.
     */

    for (p = data; p < data + n; p++) {
        if (*p == '\n' || *p == '\r') {
            ngx_http_tfa_resend_set_reason(reason, reason_len,
                                    "credentials must be a single line");
            return -1;
        }

        if (*p < 0x20 || *p == 0x7f) {
            ngx_http_tfa_resend_set_reason(reason, reason_len,
                                    "credentials contain a control character");
            return -1;
        }
    }

    if (basic) {
        colon = memchr(data, ':', n);

        if (colon == NULL || colon == data) {
            ngx_http_tfa_resend_set_reason(reason, reason_len,
                "credentials must be \"username:password\" with a username");
            return -1;
        }

    } else if (memchr(data, ' ', n) != NULL) {
        ngx_http_tfa_resend_set_reason(reason, reason_len,
                                       "API key must not contain spaces");
        return -1;
    }

    if (out_len) {
        *out_len = n;
    }

    return 0;
}
