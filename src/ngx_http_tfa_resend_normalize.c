
/*
 * The canonical resend response builder.  No nginx headers here (see the
 * header); the contract is shared/reference/canonical-response.md.
 *
 * It runs on every answer, so it is written to be cheap: the common
 * success answer is read by a strict scanner instead of a jansson tree
 * (anything it is not sure of goes to jansson, the parser of record);
 * jansson parses into a per-call arena; and the canonical body is written
 * directly, once, into one block from the caller's allocator (the filter's
 * request pool): of the exact size for an error answer, with room for the
 * worst case of its two short strings for a success.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_check.h"
#include "ngx_http_tfa_resend_normalize.h"


#define NGX_HTTP_TFA_RESEND_EXACT     0
#define NGX_HTTP_TFA_RESEND_PREFIX    1
#define NGX_HTTP_TFA_RESEND_CONTAINS  2

#define NGX_HTTP_TFA_RESEND_DUMP_FLAGS  (JSON_PRESERVE_ORDER|JSON_COMPACT)

/* plain text made valid UTF-8: an invalid byte becomes 3 (U+FFFD) */
#define NGX_HTTP_TFA_RESEND_PLAIN_BUF  (3 * NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX)


typedef struct {
    unsigned char                  *from;
    size_t                          from_len;
    const char                     *to;
} ngx_http_tfa_resend_exact_t;


typedef struct {
    ngx_http_tfa_resend_pattern_t  *re;
    const char                     *to;
} ngx_http_tfa_resend_regex_t;


struct ngx_http_tfa_resend_status_map_s {
    ngx_http_tfa_resend_exact_t    *exact;
    size_t                          nexact;
    ngx_http_tfa_resend_regex_t    *regex;
    size_t                          nregex;
};


typedef struct {
    int                             kind;
    const char                     *value;
    const char                     *to;
} ngx_http_tfa_resend_builtin_t;


typedef struct {
    int                             code;
    const char                     *message_id;
} ngx_http_tfa_resend_code_t;


typedef struct {
    const char                     *key;
    const char                     *value;
} ngx_http_tfa_resend_pair_t;


typedef struct {
    const unsigned char            *data;    /* NULL: JSON null */
    size_t                          len;
} ngx_http_tfa_resend_str_t;


/* what goes into a canonical body, pointing into the input */

typedef struct {
    int                             status;
    ngx_http_tfa_resend_str_t       pin_id;
    ngx_http_tfa_resend_str_t       to;
    const char                     *call_status;
    ngx_http_tfa_resend_str_t       message_id;     /* status >= 400 */
    ngx_http_tfa_resend_str_t       text;           /* status >= 400 */
    json_t                         *validation_errors;  /* or NULL */
    size_t                          validation_errors_len;
} ngx_http_tfa_resend_parts_t;


static const char  *ngx_http_tfa_resend_call_statuses[] = {
    "BAD_REQUEST",
    "PROCESSING",
    "PROCESSED",
    "ANSWERED_MACHINE",
    "ERROR",
    "ERROR_NOT_ENOUGH_CREDITS",
    "ERROR_NETWORK_NOT_AVAILABLE",
    "ERROR_ROUTE_NOT_AVAILABLE",
    "ERROR_USER_BUSY",
    "ERROR_NO_ANSWER",
    "UNDEFINED",
    NULL
};


/*
 * The contract's built-in table, after the 11 values that map to
 * themselves.  Rows are tried in the contract's order and the first match
 * wins, so "REJECTED_NOT_ENOUGH_CREDITS" is ERROR_NOT_ENOUGH_CREDITS (the
 * "*...*" rows come before "REJECTED*"), while "PENDING_*" comes first of
 * all.  Values are upper case; the subject is compared case-insensitively.
 */

static const ngx_http_tfa_resend_builtin_t  ngx_http_tfa_resend_builtin[] = {
    { NGX_HTTP_TFA_RESEND_EXACT,    "PENDING",               "PROCESSING" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "PENDING_",              "PROCESSING" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "ACCEPTED",              "PROCESSING" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "MESSAGE_SENT",          "PROCESSING" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "SENT",                  "PROCESSING" },

    { NGX_HTTP_TFA_RESEND_EXACT,    "DELIVERED",             "PROCESSED" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "DELIVERED_",            "PROCESSED" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "ANSWERED",              "PROCESSED" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "ANSWERED_HUMAN",        "PROCESSED" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "COMPLETED",             "PROCESSED" },

    { NGX_HTTP_TFA_RESEND_EXACT,    "MACHINE",
      "ANSWERED_MACHINE" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "ANSWERED_BY_MACHINE",
      "ANSWERED_MACHINE" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "VOICEMAIL",
      "ANSWERED_MACHINE" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "NOT_ENOUGH_CREDITS",
      "ERROR_NOT_ENOUGH_CREDITS" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "INSUFFICIENT_FUNDS",
      "ERROR_NOT_ENOUGH_CREDITS" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "NETWORK_NOT_AVAILABLE",
      "ERROR_NETWORK_NOT_AVAILABLE" },
    { NGX_HTTP_TFA_RESEND_CONTAINS, "NETWORK_NOT_ALLOWED",
      "ERROR_NETWORK_NOT_AVAILABLE" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "ROUTE_NOT_AVAILABLE",
      "ERROR_ROUTE_NOT_AVAILABLE" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "NO_ROUTE",
      "ERROR_ROUTE_NOT_AVAILABLE" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "USER_BUSY",
      "ERROR_USER_BUSY" },
    { NGX_HTTP_TFA_RESEND_EXACT,    "BUSY",
      "ERROR_USER_BUSY" },

    { NGX_HTTP_TFA_RESEND_CONTAINS, "NO_ANSWER",
      "ERROR_NO_ANSWER" },

    { NGX_HTTP_TFA_RESEND_PREFIX,   "UNDELIVERABLE",         "ERROR" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "REJECTED",              "ERROR" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "EXPIRED",               "ERROR" },
    { NGX_HTTP_TFA_RESEND_PREFIX,   "FAILED",                "ERROR" },

    { 0, NULL, NULL }
};


static const ngx_http_tfa_resend_code_t  ngx_http_tfa_resend_status_ids[] = {
    { 400, "BAD_REQUEST" },
    { 401, "UNAUTHORIZED" },
    { 403, "FORBIDDEN" },
    { 404, "NOT_FOUND" },
    { 405, "METHOD_NOT_ALLOWED" },
    { 413, "REQUEST_TOO_LARGE" },
    { 429, "TOO_MANY_REQUESTS" },
    { 0, NULL }
};


/* the newer error shape's codes, as the official Java client maps them */

static const ngx_http_tfa_resend_pair_t  ngx_http_tfa_resend_error_codes[] = {
    { "E400", "BAD_REQUEST" },
    { "E401", "UNAUTHORIZED" },
    { "E403", "FORBIDDEN" },
    { "E404", "NOT_FOUND" },
    { "E429", "TOO_MANY_REQUESTS" },
    { "E500", "GENERAL_ERROR" },
    { NULL, NULL }
};


/* "text" when nothing usable was sent: Infobip's wording where it has one */

static const ngx_http_tfa_resend_pair_t  ngx_http_tfa_resend_texts[] = {
    { "BAD_REQUEST", "Bad request" },
    { "UNAUTHORIZED", "Unauthorized" },
    { "FORBIDDEN", "Forbidden" },
    { "NOT_FOUND", "Not found" },
    { "METHOD_NOT_ALLOWED", "Method not allowed" },
    { "REQUEST_TOO_LARGE", "Request too large" },
    { "TOO_MANY_REQUESTS", "Too many requests" },
    { "GENERAL_ERROR", "General error" },
    { "UPSTREAM_ERROR", "Upstream answer could not be used" },
    { "UPSTREAM_TIMEOUT", "Upstream timed out" },
    { NULL, NULL }
};


static const ngx_http_tfa_resend_code_t  ngx_http_tfa_resend_status_texts[] = {
    { 415, "Unsupported media type" },
    { 502, "Bad gateway" },
    { 503, "Service unavailable" },
    { 504, "Gateway timeout" },
    { 0, NULL }
};


/*
 * The bytes that stand for themselves inside a JSON string, both ways:
 * printable ASCII and DEL but '"' and '\'.  Controls need an escape; bytes
 * from 0x80 are UTF-8, checked apart.  A table: the scanner and the writer
 * run over every byte of the answer with it.
 */

static const unsigned char  ngx_http_tfa_resend_json_plain[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};


static int ngx_http_tfa_resend_is_space(unsigned char c);
static void ngx_http_tfa_resend_trim(const unsigned char **s, size_t *len);
static unsigned char ngx_http_tfa_resend_upper(unsigned char c);
static int ngx_http_tfa_resend_ci_equal(const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen);
static int ngx_http_tfa_resend_ci_find(const unsigned char *s, size_t len,
    const char *needle, size_t at_most);
static const char *ngx_http_tfa_resend_builtin_status(const unsigned char *s,
    size_t len);
static size_t ngx_http_tfa_resend_utf8_char(const unsigned char *p,
    size_t len, unsigned *cp);
static size_t ngx_http_tfa_resend_put(unsigned char *d, size_t at,
    const void *s, size_t n);
static size_t ngx_http_tfa_resend_utf8_copy(unsigned char *d,
    const unsigned char *s, size_t len);
static size_t ngx_http_tfa_resend_json_string(unsigned char *d, size_t at,
    const unsigned char *s, size_t len);
static size_t ngx_http_tfa_resend_plain_text(unsigned char *buf,
    const unsigned char *s, size_t len);
static size_t ngx_http_tfa_resend_write(unsigned char *d,
    const ngx_http_tfa_resend_parts_t *p);
static int ngx_http_tfa_resend_emit(ngx_http_tfa_resend_parts_t *p,
    const ngx_http_tfa_resend_allocator_t *allocator,
    ngx_http_tfa_resend_canonical_t *out);
static int ngx_http_tfa_resend_is_text_plain(const unsigned char *s,
    size_t len);
static const char *ngx_http_tfa_resend_status_message_id(int status);
static const char *ngx_http_tfa_resend_default_text(int status,
    const unsigned char *message_id, size_t len);
static const char *ngx_http_tfa_resend_error_call_status(int status,
    const unsigned char *message_id, size_t len);
static int ngx_http_tfa_resend_get_string(json_t *obj, const char *key,
    const unsigned char **s, size_t *len);
static int ngx_http_tfa_resend_upstream_status(json_t *obj,
    const unsigned char **s, size_t *len);
static void ngx_http_tfa_resend_pin(const unsigned char *s, size_t len,
    const ngx_http_tfa_resend_answer_t *in, ngx_http_tfa_resend_str_t *pin);
static int ngx_http_tfa_resend_error(const ngx_http_tfa_resend_answer_t *in,
    json_t *obj, ngx_http_tfa_resend_canonical_t *out);
static void *ngx_http_tfa_resend_arena_alloc(size_t size);
static void ngx_http_tfa_resend_arena_free(void *p);
static const unsigned char *ngx_http_tfa_resend_scan_space(
    const unsigned char *p, const unsigned char *end);
static const unsigned char *ngx_http_tfa_resend_scan_string(
    const unsigned char *p, const unsigned char *end);
static const unsigned char *ngx_http_tfa_resend_scan_number(
    const unsigned char *p, const unsigned char *end);
static const unsigned char *ngx_http_tfa_resend_scan_literal(
    const unsigned char *p, const unsigned char *end, const char *literal,
    size_t len);
static int ngx_http_tfa_resend_scan_key(const unsigned char *key, size_t len);

static int
ngx_http_tfa_resend_is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
}


static void
ngx_http_tfa_resend_trim(const unsigned char **s, size_t *len)
{
    while (*len && ngx_http_tfa_resend_is_space((*s)[0])) {
        (*s)++;
        (*len)--;
    }

    while (*len && ngx_http_tfa_resend_is_space((*s)[*len - 1])) {
        (*len)--;
    }
}


static unsigned char
ngx_http_tfa_resend_upper(unsigned char c)
{
    /* ASCII only, whatever the locale: the status names are ASCII */
    return (c >= 'a' && c <= 'z') ? (unsigned char) (c - 'a' + 'A') : c;
}


static int
ngx_http_tfa_resend_ci_equal(const unsigned char *a, size_t alen,
    const unsigned char *b, size_t blen)
{
    size_t  i;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        if (ngx_http_tfa_resend_upper(a[i]) != ngx_http_tfa_resend_upper(b[i]))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * Case-insensitive search of needle in s, starting at
 * positions 0 .. at_most (at_most 0: a prefix check).
 */

static int
ngx_http_tfa_resend_ci_find(const unsigned char *s, size_t len,
    const char *needle, size_t at_most)
{
    size_t  i, n;

    n = strlen(needle);

    if (len < n) {
        return 0;
    }

    for (i = 0; i <= len - n && i <= at_most; i++) {
        if (ngx_http_tfa_resend_upper(s[i])
            == ngx_http_tfa_resend_upper((unsigned char) needle[0])
            && ngx_http_tfa_resend_ci_equal(s + i, n,
                                            (const unsigned char *) needle, n))
        {
            return 1;
        }
    }

    return 0;
}


int
ngx_http_tfa_resend_is_call_status(const unsigned char *s, size_t len)
{
    const char  **v;

    if (s == NULL) {
        return 0;
    }

    for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
        if (strlen(*v) == len && memcmp(*v, s, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static const char *
ngx_http_tfa_resend_builtin_status(const unsigned char *s, size_t len)
{
    unsigned char                          first;
    const char                           **v;
    const ngx_http_tfa_resend_builtin_t   *b;

    if (len == 0) {
        return "UNDEFINED";
    }

    /* the first letter rules out most rows before their length is taken */

    first = ngx_http_tfa_resend_upper(s[0]);

    for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
        if (first == (unsigned char) (*v)[0]
            && ngx_http_tfa_resend_ci_equal(s, len,
                                            (const unsigned char *) *v,
                                            strlen(*v)))
        {
            return *v;
        }
    }

    for (b = ngx_http_tfa_resend_builtin; b->value; b++) {
        switch (b->kind) {

        case NGX_HTTP_TFA_RESEND_EXACT:
            if (first == (unsigned char) b->value[0]
                && ngx_http_tfa_resend_ci_equal(s, len,
                                             (const unsigned char *) b->value,
                                             strlen(b->value)))
            {
                return b->to;
            }
            break;

        case NGX_HTTP_TFA_RESEND_PREFIX:
            if (ngx_http_tfa_resend_ci_find(s, len, b->value, 0)) {
                return b->to;
            }
            break;

        default: /* NGX_HTTP_TFA_RESEND_CONTAINS */
            if (ngx_http_tfa_resend_ci_find(s, len, b->value, (size_t) -1)) {
                return b->to;
            }
            break;
        }
    }

    return "UNDEFINED";
}


ngx_http_tfa_resend_status_map_t *
ngx_http_tfa_resend_status_map_create(void)
{
    return calloc(1, sizeof(ngx_http_tfa_resend_status_map_t));
}


int
ngx_http_tfa_resend_status_map_add(ngx_http_tfa_resend_status_map_t *map,
    const unsigned char *from, size_t from_len,
    const unsigned char *canonical, size_t canonical_len,
    char *err, size_t errlen)
{
    int                             caseless;
    size_t                          skip;
    const char                    **v, *to;
    ngx_http_tfa_resend_regex_t    *regex;
    ngx_http_tfa_resend_exact_t    *exact;
    ngx_http_tfa_resend_pattern_t  *re;

    to = NULL;

    for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
        if (canonical && strlen(*v) == canonical_len
            && memcmp(*v, canonical, canonical_len) == 0)
        {
            to = *v;
            break;
        }
    }

    if (to == NULL) {
        if (err && errlen) {
            snprintf(err, errlen, "unknown callStatus \"%.*s\"",
                     (int) (canonical_len > 64 ? 64 : canonical_len),
                     canonical ? (const char *) canonical : "");
        }

        return -1;
    }

    if (from == NULL) {
        from = (const unsigned char *) "";
        from_len = 0;
    }

    if (from_len && from[0] == '~') {
        caseless = (from_len > 1 && from[1] == '*');
        skip = caseless ? 2 : 1;

        re = ngx_http_tfa_resend_pattern_compile_ex(from + skip,
                                                    from_len - skip, caseless,
                                                    err, errlen);
        if (re == NULL) {
            return -1;
        }

        regex = realloc(map->regex, (map->nregex + 1)
                                    * sizeof(ngx_http_tfa_resend_regex_t));
        if (regex == NULL) {
            ngx_http_tfa_resend_pattern_free(re);
            goto nomem;
        }

        map->regex = regex;
        regex[map->nregex].re = re;
        regex[map->nregex].to = to;
        map->nregex++;

        return 0;
    }

    /* exact values are compared trimmed, as the upstream value is */

    ngx_http_tfa_resend_trim(&from, &from_len);

    exact = realloc(map->exact,
                    (map->nexact + 1) * sizeof(ngx_http_tfa_resend_exact_t));
    if (exact == NULL) {
        goto nomem;
    }

    map->exact = exact;

    exact[map->nexact].from = malloc(from_len + 1);
    if (exact[map->nexact].from == NULL) {
        goto nomem;
    }

    memcpy(exact[map->nexact].from, from, from_len);
    exact[map->nexact].from_len = from_len;
    exact[map->nexact].to = to;
    map->nexact++;

    return 0;

nomem:

    if (err && errlen) {
        snprintf(err, errlen, "out of memory");
    }

    return -1;
}


void
ngx_http_tfa_resend_status_map_free(ngx_http_tfa_resend_status_map_t *map)
{
    size_t  i;

    if (map == NULL) {
        return;
    }

    for (i = 0; i < map->nexact; i++) {
        free(map->exact[i].from);
    }

    for (i = 0; i < map->nregex; i++) {
        ngx_http_tfa_resend_pattern_free(map->regex[i].re);
    }

    free(map->exact);
    free(map->regex);
    free(map);
}


const char *
ngx_http_tfa_resend_map_status(const ngx_http_tfa_resend_status_map_t *map,
    const unsigned char *status, size_t len)
{
    size_t  i;

    if (status == NULL) {
        return "UNDEFINED";
    }

    ngx_http_tfa_resend_trim(&status, &len);

    if (map) {
        for (i = 0; i < map->nexact; i++) {
            if (ngx_http_tfa_resend_ci_equal(status, len, map->exact[i].from,
                                             map->exact[i].from_len))
            {
                return map->exact[i].to;
            }
        }

        for (i = 0; i < map->nregex; i++) {
            if (ngx_http_tfa_resend_pattern_match(map->regex[i].re, status,
                                                  len))
            {
                return map->regex[i].to;
            }
        }
    }

    return ngx_http_tfa_resend_builtin_status(status, len);
}

/*
 * Decodes one UTF-8 character as jansson validates it (no overlong forms,
 * no surrogates, nothing above U+10FFFF).  Returns its length, or 0 for an
 * invalid byte.
 */

static size_t
ngx_http_tfa_resend_utf8_char(const unsigned char *p, size_t len,
    unsigned *cp)
{
    size_t         n, i;
    unsigned       c;
    unsigned char  lo, hi;

    c = p[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        c &= 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;
        c &= 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;
        c &= 0x07;

    } else {
        return 0;
    }

    if (len < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    c = (c << 6) | (p[1] & 0x3f);

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    *cp = c;
    return n;
}


/*
 * The writers below count when d is NULL and write at d + at otherwise:
 * an error body is measured by the very code that then writes it, so that
 * one allocation of the exact size is enough.
 */

static size_t
ngx_http_tfa_resend_put(unsigned char *d, size_t at, const void *s, size_t n)
{
    if (d) {
        memcpy(d + at, s, n);
    }

    return n;
}


#define ngx_http_tfa_resend_put_literal(d, at, s)                           \
    ngx_http_tfa_resend_put(d, at, s, sizeof(s) - 1)


/*
 * Bytes made valid UTF-8, each invalid byte becoming U+FFFD, as a string
 * from the request or the caller must be before it goes out.
 */

static size_t
ngx_http_tfa_resend_utf8_copy(unsigned char *d, const unsigned char *s,
    size_t len)
{
    size_t    i, n, size;
    unsigned  cp;

    size = 0;

    for (i = 0; i < len; i += n) {
        n = ngx_http_tfa_resend_utf8_char(s + i, len - i, &cp);

        if (n == 0) {
            n = 1;
            size += ngx_http_tfa_resend_put_literal(d, size, "\xef\xbf\xbd");
            continue;
        }

        size += ngx_http_tfa_resend_put(d, size, s + i, n);
    }

    return size;
}


/*
 * A JSON string, quotes included, exactly as the canonical body had it when
 * it was a jansson tree dumped with JSON_COMPACT (and neither
 * JSON_ENSURE_ASCII nor JSON_ESCAPE_SLASH): the bytes made valid UTF-8 as
 * above, then '"' and '\' escaped, \b \f \n \r \t, the other characters
 * below 0x20 as \u00XX in upper-case hex, and everything else (DEL, C1
 * controls, non-ASCII, '/') as it is.  s NULL is JSON null.
 */

static size_t
ngx_http_tfa_resend_json_string(unsigned char *d, size_t at,
    const unsigned char *s, size_t len)
{
    size_t          i, n, run, size;
    unsigned        cp;
    const char     *esc;
    unsigned char   c, seq[6];

    static const char  hex[] = "0123456789ABCDEF";

    if (s == NULL) {
        return ngx_http_tfa_resend_put_literal(d, at, "null");
    }

    size = at;
    size += ngx_http_tfa_resend_put_literal(d, size, "\"");

    i = 0;

    while (i < len) {

        /* printable ASCII, nearly all of any real answer, goes in runs */

        run = i;

        while (i < len && ngx_http_tfa_resend_json_plain[s[i]]) {
            i++;
        }

        if (i > run) {
            size += ngx_http_tfa_resend_put(d, size, s + run, i - run);
            continue;
        }

        c = s[i];

        if (c >= 0x80) {
            n = ngx_http_tfa_resend_utf8_char(s + i, len - i, &cp);

            if (n == 0) {
                size += ngx_http_tfa_resend_put_literal(d, size,
                                                        "\xef\xbf\xbd");
                i++;

            } else {
                size += ngx_http_tfa_resend_put(d, size, s + i, n);
                i += n;
            }

            continue;
        }

        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            esc = NULL;
        }

        if (esc) {
            size += ngx_http_tfa_resend_put(d, size, esc, 2);

        } else {
            seq[0] = '\\';
            seq[1] = 'u';
            seq[2] = '0';
            seq[3] = '0';
            seq[4] = hex[c >> 4];
            seq[5] = hex[c & 0x0f];

            size += ngx_http_tfa_resend_put(d, size, seq, 6);
        }

        i++;
    }

    size += ngx_http_tfa_resend_put_literal(d, size, "\"");

    return size - at;
}


/*
 * A plain-text upstream body made fit for "text" into buf (3 * len bytes
 * at most): valid UTF-8 as above; C0/C1 control characters and DEL
 * dropped, except that a tab or line break becomes one space so that words
 * on separate lines stay apart; runs of spaces collapsed; trimmed.
 */

static size_t
ngx_http_tfa_resend_plain_text(unsigned char *buf, const unsigned char *s,
    size_t len)
{
    size_t          i, n;
    unsigned        cp;
    unsigned char  *d;

    d = buf;

    for (i = 0; i < len; i += n) {
        n = ngx_http_tfa_resend_utf8_char(s + i, len - i, &cp);

        if (n == 0) {
            n = 1;
            *d++ = 0xef; *d++ = 0xbf; *d++ = 0xbd;
            continue;
        }

        if (cp == '\t' || cp == '\n' || cp == '\r' || cp == ' ') {
            if (d > buf && d[-1] != ' ') {
                *d++ = ' ';
            }

            continue;
        }

        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
            continue;
        }

        memcpy(d, s + i, n);
        d += n;
    }

    if (d > buf && d[-1] == ' ') {
        d--;
    }

    return d - buf;
}


/*
 * The canonical body, in this key order, with nothing else:
 *
 *   {"pinId":P,"to":T,"callStatus":"C"}
 *   {"pinId":P,"to":T,"callStatus":"C","requestError":{"serviceException":
 *       {"messageId":M,"text":X[,"validationErrors":V]}}}  (status >= 400)
 *
 * V is the upstream's own JSON, whatever its type, dumped by jansson as it
 * was before (its length measured first, in validation_errors_len).
 */

static size_t
ngx_http_tfa_resend_write(unsigned char *d,
    const ngx_http_tfa_resend_parts_t *p)
{
    size_t  n;

    n = ngx_http_tfa_resend_put_literal(d, 0, "{\"pinId\":");
    n += ngx_http_tfa_resend_json_string(d, n, p->pin_id.data,
                                         p->pin_id.len);
    n += ngx_http_tfa_resend_put_literal(d, n, ",\"to\":");
    n += ngx_http_tfa_resend_json_string(d, n, p->to.data, p->to.len);
    n += ngx_http_tfa_resend_put_literal(d, n, ",\"callStatus\":\"");
    n += ngx_http_tfa_resend_put(d, n, p->call_status,
                                 strlen(p->call_status));

    if (p->status < 400) {
        n += ngx_http_tfa_resend_put_literal(d, n, "\"}");
        return n;
    }

    n += ngx_http_tfa_resend_put_literal(d, n,
             "\",\"requestError\":{\"serviceException\":{\"messageId\":");
    n += ngx_http_tfa_resend_json_string(d, n, p->message_id.data,
                                         p->message_id.len);
    n += ngx_http_tfa_resend_put_literal(d, n, ",\"text\":");
    n += ngx_http_tfa_resend_json_string(d, n, p->text.data, p->text.len);

    if (p->validation_errors) {
        n += ngx_http_tfa_resend_put_literal(d, n, ",\"validationErrors\":");

        if (d && json_dumpb(p->validation_errors, (char *) d + n,
                            p->validation_errors_len,
                            NGX_HTTP_TFA_RESEND_DUMP_FLAGS | JSON_ENCODE_ANY)
                 != p->validation_errors_len)
        {
            /* cannot happen: the same value measured a moment ago */
            return 0;
        }

        n += p->validation_errors_len;
    }

    n += ngx_http_tfa_resend_put_literal(d, n, "}}}");

    return n;
}


/*
 * Allocates once (the body, its NUL, and for an error the messageId copy
 * after it) and writes.  Returns 0, or -1 with out empty.
 */

static int
ngx_http_tfa_resend_emit(ngx_http_tfa_resend_parts_t *p,
    const ngx_http_tfa_resend_allocator_t *allocator,
    ngx_http_tfa_resend_canonical_t *out)
{
    size_t          size, mid_len, total;
    unsigned char  *buf;

    memset(out, 0, sizeof(ngx_http_tfa_resend_canonical_t));

    if (p->validation_errors) {
        p->validation_errors_len = json_dumpb(p->validation_errors, NULL, 0,
                                              NGX_HTTP_TFA_RESEND_DUMP_FLAGS
                                              | JSON_ENCODE_ANY);
        if (p->validation_errors_len == 0) {
            return -1;
        }
    }

    mid_len = 0;

    if (p->status < 400) {

        /*
         * Two short strings: room for the worst of each (6 bytes a byte,
         * as "\u00XX"; 4 for null) costs less than measuring them first
         */

        size = 0;  /* known once written */
        total = sizeof("{\"pinId\":,\"to\":,\"callStatus\":\"\"}")
                + 6 * (p->pin_id.len + p->to.len) + 2 * 4
                + strlen(p->call_status);

    } else {
        size = ngx_http_tfa_resend_write(NULL, p);
        total = size + 1;

        mid_len = ngx_http_tfa_resend_utf8_copy(NULL, p->message_id.data,
                                                p->message_id.len);
        total += mid_len + 1;
    }

    if (allocator) {
        buf = allocator->alloc(allocator->data, total);

    } else {
        buf = malloc(total);
    }

    if (buf == NULL) {
        return -1;
    }

    if (p->status < 400) {
        size = ngx_http_tfa_resend_write(buf, p);

    } else if (ngx_http_tfa_resend_write(buf, p) != size) {
        if (allocator == NULL) {
            free(buf);
        }

        return -1;
    }

    buf[size] = '\0';

    if (p->status >= 400) {
        out->message_id = (char *) buf + size + 1;
        out->message_id_len = ngx_http_tfa_resend_utf8_copy(
                                  (unsigned char *) out->message_id,
                                  p->message_id.data, p->message_id.len);
        out->message_id[mid_len] = '\0';
    }

    out->status = p->status;
    out->body = (char *) buf;
    out->body_len = size;
    out->call_status = p->call_status;
    out->malloced = (allocator == NULL);

    return 0;
}


static int
ngx_http_tfa_resend_is_text_plain(const unsigned char *s, size_t len)
{
    static const char  type[] = "text/plain";
    size_t             n;

    n = sizeof(type) - 1;

    ngx_http_tfa_resend_trim(&s, &len);

    if (!ngx_http_tfa_resend_ci_find(s, len, type, 0)) {
        return 0;
    }

    return len == n || s[n] == ';' || s[n] == ' ' || s[n] == '\t';
}


static const char *
ngx_http_tfa_resend_status_message_id(int status)
{
    const ngx_http_tfa_resend_code_t  *c;

    for (c = ngx_http_tfa_resend_status_ids; c->message_id; c++) {
        if (c->code == status) {
            return c->message_id;
        }
    }

    return status >= 500 ? "GENERAL_ERROR" : "BAD_REQUEST";
}


static const char *
ngx_http_tfa_resend_default_text(int status, const unsigned char *message_id,
    size_t len)
{
    const ngx_http_tfa_resend_pair_t  *t;
    const ngx_http_tfa_resend_code_t  *c;

    for (t = ngx_http_tfa_resend_texts; t->key; t++) {
        if (strlen(t->key) == len && memcmp(t->key, message_id, len) == 0) {
            return t->value;
        }
    }

    for (c = ngx_http_tfa_resend_status_texts; c->message_id; c++) {
        if (c->code == status) {
            return c->message_id;
        }
    }

    return status >= 500 ? "General error" : "Bad request";
}


/* callStatus of an error response whose body carried no status */

static const char *
ngx_http_tfa_resend_error_call_status(int status,
    const unsigned char *message_id, size_t len)
{
    if (message_id
        && (ngx_http_tfa_resend_ci_find(message_id, len, "NOT_ENOUGH_CREDITS",
                                        (size_t) -1)
            || ngx_http_tfa_resend_ci_find(message_id, len,
                                           "INSUFFICIENT_FUNDS", (size_t) -1)))
    {
        return "ERROR_NOT_ENOUGH_CREDITS";
    }

    return status >= 500 ? "ERROR" : "BAD_REQUEST";
}


/* 1 and the string if obj[key] is a string, else 0 */

static int
ngx_http_tfa_resend_get_string(json_t *obj, const char *key,
    const unsigned char **s, size_t *len)
{
    json_t  *v;

    v = json_object_get(obj, key);

    if (!json_is_string(v)) {
        return 0;
    }

    *s = (const unsigned char *) json_string_value(v);
    *len = json_string_length(v);

    return 1;
}


/*
 * Rule 1 of "Reading the upstream status": "callStatus", or "status" when
 * "callStatus" is absent or null; a string as is, an object by its "name"
 * when that is a string with something in it, else by its "groupName".
 * Returns 1 with the string, or 0 when the answer carries no status string.
 */

static int
ngx_http_tfa_resend_upstream_status(json_t *obj, const unsigned char **s,
    size_t *len)
{
    json_t  *v;

    v = json_object_get(obj, "callStatus");

    if (v == NULL || json_is_null(v)) {
        v = json_object_get(obj, "status");
    }

    if (json_is_string(v)) {
        *s = (const unsigned char *) json_string_value(v);
        *len = json_string_length(v);
        return 1;
    }

    if (!json_is_object(v)) {
        return 0;
    }

    if (ngx_http_tfa_resend_get_string(v, "name", s, len)) {
        ngx_http_tfa_resend_trim(s, len);

        if (*len) {
            return 1;
        }
    }

    return ngx_http_tfa_resend_get_string(v, "groupName", s, len);
}


/* the upstream's pinId if a non-empty string, else the request's, else null */

static void
ngx_http_tfa_resend_pin(const unsigned char *s, size_t len,
    const ngx_http_tfa_resend_answer_t *in, ngx_http_tfa_resend_str_t *pin)
{
    if (s && len) {
        pin->data = s;
        pin->len = len;

    } else {
        pin->data = in->pin_id;
        pin->len = in->pin_id ? in->pin_id_len : 0;
    }
}


/* an error answer (status >= 400): keep the status, canonicalize the body */

static int
ngx_http_tfa_resend_error(const ngx_http_tfa_resend_answer_t *in,
    json_t *obj, ngx_http_tfa_resend_canonical_t *out)
{
    int                                has_status;
    size_t                             mid_len, text_len, status_len, len;
    json_t                            *se, *ve;
    unsigned char                      plain[NGX_HTTP_TFA_RESEND_PLAIN_BUF];
    const unsigned char               *mid, *text, *status, *s;
    ngx_http_tfa_resend_parts_t        p;
    const ngx_http_tfa_resend_pair_t  *c;

    mid = NULL;
    mid_len = 0;
    text = NULL;
    text_len = 0;
    ve = NULL;
    has_status = 0;
    status = NULL;
    status_len = 0;

    memset(&p, 0, sizeof(ngx_http_tfa_resend_parts_t));

    if (obj) {
        /* a blank status is no status: the error rules decide instead */

        has_status = ngx_http_tfa_resend_upstream_status(obj, &status,
                                                         &status_len);
        if (has_status) {
            ngx_http_tfa_resend_trim(&status, &status_len);
            has_status = (status_len != 0);
        }

        se = json_object_get(json_object_get(obj, "requestError"),
                             "serviceException");

        if (json_is_object(se)) {
            /* the 2FA API's own error object */

            if (ngx_http_tfa_resend_get_string(se, "messageId", &s, &len)
                && len)
            {
                mid = s;
                mid_len = len;
            }

            if (ngx_http_tfa_resend_get_string(se, "text", &s, &len)) {
                text = s;
                text_len = len;
            }

            ve = json_object_get(se, "validationErrors");

            if (json_is_null(ve)) {
                ve = NULL;
            }

        } else if (ngx_http_tfa_resend_get_string(obj, "errorCode", &s, &len)
                   && len)
        {
            /* the newer {"errorCode":"E404","description":"..."} shape */

            mid = s;
            mid_len = len;

            for (c = ngx_http_tfa_resend_error_codes; c->key; c++) {
                if (strlen(c->key) == len && memcmp(c->key, s, len) == 0) {
                    mid = (const unsigned char *) c->value;
                    mid_len = strlen(c->value);
                    break;
                }
            }

            if (ngx_http_tfa_resend_get_string(obj, "description", &s, &len)) {
                text = s;
                text_len = len;
            }

        } else if ((ngx_http_tfa_resend_get_string(obj, "error", &s, &len)
                    && len)
                   || (ngx_http_tfa_resend_get_string(obj, "message", &s,
                                                      &len)
                       && len))
        {
            text = s;
            text_len = len;
        }

        if (ngx_http_tfa_resend_get_string(obj, "to", &s, &len)) {
            p.to.data = s;
            p.to.len = len;
        }

        if (ngx_http_tfa_resend_get_string(obj, "pinId", &s, &len)) {
            ngx_http_tfa_resend_pin(s, len, in, &p.pin_id);

        } else {
            ngx_http_tfa_resend_pin(NULL, 0, in, &p.pin_id);
        }

    } else {
        ngx_http_tfa_resend_pin(NULL, 0, in, &p.pin_id);

        if (in->body_len
            && in->body_len <= NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX
            && (in->content_type == NULL
                || ngx_http_tfa_resend_is_text_plain(in->content_type,
                                                     in->content_type_len)))
        {
            /*
             * "Plain text": no JSON object, and a Content-Type that is
             * absent or text/plain; an HTML error page or anything longer
             * than the cap is not shown to clients: it falls back to the
             * status.
             */

            len = ngx_http_tfa_resend_plain_text(plain, in->body,
                                                 in->body_len);
            if (len) {
                text = plain;
                text_len = len;
            }
        }
    }

    if (mid == NULL) {
        mid = (const unsigned char *)
                  ngx_http_tfa_resend_status_message_id(in->status);
        mid_len = strlen((const char *) mid);
    }

    if (text == NULL) {
        text = (const unsigned char *)
                   ngx_http_tfa_resend_default_text(in->status, mid, mid_len);
        text_len = strlen((const char *) text);
    }

    if (has_status) {
        p.call_status = ngx_http_tfa_resend_map_status(in->map, status,
                                                       status_len);
    } else {
        p.call_status = ngx_http_tfa_resend_error_call_status(in->status, mid,
                                                              mid_len);
    }

    p.status = in->status;
    p.message_id.data = mid;
    p.message_id.len = mid_len;
    p.text.data = text;
    p.text.len = text_len;
    p.validation_errors = ve;

    return ngx_http_tfa_resend_emit(&p, in->allocator, out);
}


/*
 * jansson's memory while the normalizer parses: an answer's tree is a few
 * dozen small blocks, all freed before the call returns, and malloc() and
 * free() cost more than the parsing itself.  So, for the call only, jansson
 * allocates from a static arena: a bump allocator, reset at each call, free
 * a no-op inside it; what does not fit comes from malloc() as before.  The
 * previous functions are restored when the call ends, so that jansson
 * anywhere else (the request body check, another module) never sees the
 * arena; an nginx worker is single-threaded and runs nothing else during
 * the call.  ASan builds poison the unused arena and leave a red zone
 * after every block.
 */

#if defined(__SANITIZE_ADDRESS__)
#define NGX_HTTP_TFA_RESEND_ASAN  1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NGX_HTTP_TFA_RESEND_ASAN  1
#endif
#endif

#if (NGX_HTTP_TFA_RESEND_ASAN)
#include <sanitizer/asan_interface.h>
#define NGX_HTTP_TFA_RESEND_ARENA_REDZONE  16
#define ngx_http_tfa_resend_arena_poison(p, n)  ASAN_POISON_MEMORY_REGION(p, n)
#define ngx_http_tfa_resend_arena_unpoison(p, n)                              \
    ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define NGX_HTTP_TFA_RESEND_ARENA_REDZONE  0
#define ngx_http_tfa_resend_arena_poison(p, n)
#define ngx_http_tfa_resend_arena_unpoison(p, n)
#endif

/* an error answer with validationErrors fits, a 1 MB one does not */
#define NGX_HTTP_TFA_RESEND_ARENA_SIZE   16384
#define NGX_HTTP_TFA_RESEND_ARENA_ALIGN  16


typedef struct {
    json_malloc_t                   malloc;
    json_free_t                     free;
} ngx_http_tfa_resend_alloc_funcs_t;


static union {
    long double                     align_ld;
    long long                       align_ll;
    void                           *align_p;
    unsigned char                   data[NGX_HTTP_TFA_RESEND_ARENA_SIZE];
} ngx_http_tfa_resend_arena;

static size_t  ngx_http_tfa_resend_arena_used;


static void *
ngx_http_tfa_resend_arena_alloc(size_t size)
{
    size_t          need;
    unsigned char  *p;

    if (size <= NGX_HTTP_TFA_RESEND_ARENA_SIZE / 2) {
        need = (size + NGX_HTTP_TFA_RESEND_ARENA_REDZONE
                + NGX_HTTP_TFA_RESEND_ARENA_ALIGN - 1)
               & ~((size_t) NGX_HTTP_TFA_RESEND_ARENA_ALIGN - 1);

        if (need <= NGX_HTTP_TFA_RESEND_ARENA_SIZE
                    - ngx_http_tfa_resend_arena_used)
        {
            p = ngx_http_tfa_resend_arena.data
                + ngx_http_tfa_resend_arena_used;
            ngx_http_tfa_resend_arena_used += need;
            ngx_http_tfa_resend_arena_unpoison(p, size);
            return p;
        }
    }

    return malloc(size);
}


static void
ngx_http_tfa_resend_arena_free(void *p)
{
    uintptr_t  a, start;

    a = (uintptr_t) p;
    start = (uintptr_t) ngx_http_tfa_resend_arena.data;

    if (a - start < NGX_HTTP_TFA_RESEND_ARENA_SIZE) {
        /* the whole arena is reused at the next call */
        return;
    }

    free(p);
}


static void
ngx_http_tfa_resend_arena_enter(ngx_http_tfa_resend_alloc_funcs_t *saved)
{
    json_get_alloc_funcs(&saved->malloc, &saved->free);

    ngx_http_tfa_resend_arena_used = 0;
    ngx_http_tfa_resend_arena_poison(ngx_http_tfa_resend_arena.data,
                                     NGX_HTTP_TFA_RESEND_ARENA_SIZE);

    json_set_alloc_funcs(ngx_http_tfa_resend_arena_alloc,
                         ngx_http_tfa_resend_arena_free);
}


static void
ngx_http_tfa_resend_arena_leave(ngx_http_tfa_resend_alloc_funcs_t *saved)
{
    json_set_alloc_funcs(saved->malloc, saved->free);

    ngx_http_tfa_resend_arena_poison(ngx_http_tfa_resend_arena.data,
                                     NGX_HTTP_TFA_RESEND_ARENA_SIZE);
}


int
ngx_http_tfa_resend_normalize(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out)
{
    int  rc;

    rc = ngx_http_tfa_resend_normalize_fast(in, out);

    if (rc != 1) {
        return rc;
    }

    return ngx_http_tfa_resend_normalize_jansson(in, out);
}


int
ngx_http_tfa_resend_normalize_jansson(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out)
{
    int                                 rc;
    size_t                              len;
    json_t                             *root, *obj;
    const char                         *text;
    json_error_t                        error;
    const unsigned char                *s;
    ngx_http_tfa_resend_parts_t         p;
    ngx_http_tfa_resend_alloc_funcs_t   saved;

    memset(out, 0, sizeof(ngx_http_tfa_resend_canonical_t));

    ngx_http_tfa_resend_arena_enter(&saved);

    /*
     * JSON_DECODE_ANY: a scalar is reported as "not a JSON object", not as
     * invalid JSON.  JSON_ALLOW_NUL: "\u0000" is valid JSON; the strings are
     * handled with their lengths and written escaped again.
     */

    root = NULL;

    if (in->body_len) {
        root = json_loadb((const char *) in->body, in->body_len,
                          JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    }

    obj = json_is_object(root) ? root : NULL;

    if (in->status >= 400) {
        rc = ngx_http_tfa_resend_error(in, obj, out);
        goto done;
    }

    if (obj == NULL) {
        if (in->body_len == 0) {
            text = "upstream answer is empty";

        } else if (root == NULL) {
            text = "upstream answer is not valid JSON";

        } else {
            text = "upstream answer is not a JSON object";
        }

        rc = ngx_http_tfa_resend_canonical_error(502, in->pin_id,
                                                 in->pin_id_len,
                                                 "UPSTREAM_ERROR", text,
                                                 "ERROR", in->allocator, out);
        goto done;
    }

    memset(&p, 0, sizeof(ngx_http_tfa_resend_parts_t));

    p.status = in->status;

    if (ngx_http_tfa_resend_upstream_status(obj, &s, &len)) {
        p.call_status = ngx_http_tfa_resend_map_status(in->map, s, len);

    } else {
        p.call_status = "UNDEFINED";
    }

    if (ngx_http_tfa_resend_get_string(obj, "to", &s, &len)) {
        p.to.data = s;
        p.to.len = len;
    }

    if (ngx_http_tfa_resend_get_string(obj, "pinId", &s, &len)) {
        ngx_http_tfa_resend_pin(s, len, in, &p.pin_id);

    } else {
        ngx_http_tfa_resend_pin(NULL, 0, in, &p.pin_id);
    }

    rc = ngx_http_tfa_resend_emit(&p, in->allocator, out);

done:

    json_decref(root);

    ngx_http_tfa_resend_arena_leave(&saved);

    return rc;
}


/*
 * The fast path: the success answer as the API sends it, a flat object of
 * strings, read by ngx_http_tfa_resend_scan() without building a tree.
 * What it reads must be what jansson would have read; the rest is as in
 * ngx_http_tfa_resend_normalize_jansson().
 */

int
ngx_http_tfa_resend_normalize_fast(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out)
{
    ngx_http_tfa_resend_parts_t   p;
    ngx_http_tfa_resend_field_t   f[NGX_HTTP_TFA_RESEND_NFIELDS], *v;

    if (in->status >= 400
        || in->body_len == 0
        || !ngx_http_tfa_resend_scan(in->body, in->body_len, f))
    {
        return 1;
    }

    memset(&p, 0, sizeof(ngx_http_tfa_resend_parts_t));

    p.status = in->status;

    /* "callStatus", or "status" when "callStatus" is absent or null */

    v = &f[NGX_HTTP_TFA_RESEND_CALL_STATUS];

    if (v->type == NGX_HTTP_TFA_RESEND_ABSENT
        || v->type == NGX_HTTP_TFA_RESEND_NULL)
    {
        v = &f[NGX_HTTP_TFA_RESEND_STATUS];
    }

    if (v->type == NGX_HTTP_TFA_RESEND_STRING) {
        p.call_status = ngx_http_tfa_resend_map_status(in->map, v->data,
                                                       v->len);
    } else {
        p.call_status = "UNDEFINED";
    }

    v = &f[NGX_HTTP_TFA_RESEND_TO];

    if (v->type == NGX_HTTP_TFA_RESEND_STRING) {
        p.to.data = v->data;
        p.to.len = v->len;
    }

    v = &f[NGX_HTTP_TFA_RESEND_PIN_ID];

    if (v->type == NGX_HTTP_TFA_RESEND_STRING) {
        ngx_http_tfa_resend_pin(v->data, v->len, in, &p.pin_id);

    } else {
        ngx_http_tfa_resend_pin(NULL, 0, in, &p.pin_id);
    }

    return ngx_http_tfa_resend_emit(&p, in->allocator, out);
}


/* RFC 8259's white space, which is jansson's */

static const unsigned char *
ngx_http_tfa_resend_scan_space(const unsigned char *p,
    const unsigned char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    return p;
}


/*
 * A string's content, p just after the opening quote: returns p after the
 * closing quote, or NULL.  A backslash declines, so that the bytes between
 * the quotes are the value itself; a control character or invalid UTF-8 is
 * an error for jansson and declines too.
 */

static const unsigned char *
ngx_http_tfa_resend_scan_string(const unsigned char *p,
    const unsigned char *end)
{
    size_t    n;
    unsigned  cp;

    for ( ;; ) {
        while (p < end && ngx_http_tfa_resend_json_plain[*p]) {
            p++;
        }

        if (p == end || *p < 0x80) {
            /* the end, '"', '\' or a control character */
            return (p < end && *p == '"') ? p + 1 : NULL;
        }

        n = ngx_http_tfa_resend_utf8_char(p, end - p, &cp);
        if (n == 0) {
            return NULL;
        }

        p += n;
    }
}


/*
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?, RFC 8259 without the exponent.  jansson
 * fails on an integer beyond 64 bits and on a real beyond a double: an
 * exponent or more than 18 integer digits declines, so neither can happen
 * here.  Returns p after the number, or NULL.
 */

static const unsigned char *
ngx_http_tfa_resend_scan_number(const unsigned char *p,
    const unsigned char *end)
{
    const unsigned char  *digits;

    if (p < end && *p == '-') {
        p++;
    }

    digits = p;

    if (p == end || *p < '0' || *p > '9') {
        return NULL;
    }

    if (*p == '0') {
        p++;

    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }

        if (p - digits > 18) {
            return NULL;
        }
    }

    if (p < end && *p == '.') {
        p++;

        if (p == end || *p < '0' || *p > '9') {
            return NULL;
        }

        while (p < end && *p >= '0' && *p <= '9') {
            p++;
        }
    }

    if (p < end && (*p == 'e' || *p == 'E')) {
        return NULL;
    }

    return p;
}


static const unsigned char *
ngx_http_tfa_resend_scan_literal(const unsigned char *p,
    const unsigned char *end, const char *literal, size_t len)
{
    if ((size_t) (end - p) < len || memcmp(p, literal, len) != 0) {
        return NULL;
    }

    return p + len;
}


static int
ngx_http_tfa_resend_scan_key(const unsigned char *key, size_t len)
{
    switch (len) {

    case 2:
        if (memcmp(key, "to", 2) == 0) {
            return NGX_HTTP_TFA_RESEND_TO;
        }
        break;

    case 5:
        if (memcmp(key, "pinId", 5) == 0) {
            return NGX_HTTP_TFA_RESEND_PIN_ID;
        }
        break;

    case 6:
        if (memcmp(key, "status", 6) == 0) {
            return NGX_HTTP_TFA_RESEND_STATUS;
        }
        break;

    case 10:
        if (memcmp(key, "callStatus", 10) == 0) {
            return NGX_HTTP_TFA_RESEND_CALL_STATUS;
        }
        break;
    }

    return -1;
}


int
ngx_http_tfa_resend_scan(const unsigned char *body, size_t len,
    ngx_http_tfa_resend_field_t *fields)
{
    int                   i, type;
    const unsigned char  *p, *end, *key, *value;

    for (i = 0; i < NGX_HTTP_TFA_RESEND_NFIELDS; i++) {
        fields[i].type = NGX_HTTP_TFA_RESEND_ABSENT;
        fields[i].data = NULL;
        fields[i].len = 0;
    }

    end = body + len;

    p = ngx_http_tfa_resend_scan_space(body, end);

    if (p == end || *p != '{') {
        return 0;
    }

    p = ngx_http_tfa_resend_scan_space(p + 1, end);

    if (p < end && *p == '}') {
        p = ngx_http_tfa_resend_scan_space(p + 1, end);
        return p == end;
    }

    for ( ;; ) {
        if (p == end || *p != '"') {
            return 0;
        }

        key = p + 1;

        p = ngx_http_tfa_resend_scan_string(key, end);
        if (p == NULL) {
            return 0;
        }

        i = ngx_http_tfa_resend_scan_key(key, p - 1 - key);

        p = ngx_http_tfa_resend_scan_space(p, end);

        if (p == end || *p != ':') {
            return 0;
        }

        p = ngx_http_tfa_resend_scan_space(p + 1, end);

        if (p == end) {
            return 0;
        }

        value = p;

        switch (*p) {

        case '"':
            p = ngx_http_tfa_resend_scan_string(p + 1, end);
            type = NGX_HTTP_TFA_RESEND_STRING;
            break;

        case 't':
            p = ngx_http_tfa_resend_scan_literal(p, end, "true", 4);
            type = NGX_HTTP_TFA_RESEND_OTHER;
            break;

        case 'f':
            p = ngx_http_tfa_resend_scan_literal(p, end, "false", 5);
            type = NGX_HTTP_TFA_RESEND_OTHER;
            break;

        case 'n':
            p = ngx_http_tfa_resend_scan_literal(p, end, "null", 4);
            type = NGX_HTTP_TFA_RESEND_NULL;
            break;

        default:
            /* a number; '{' and '[' (nesting) decline here too */
            p = ngx_http_tfa_resend_scan_number(p, end);
            type = NGX_HTTP_TFA_RESEND_OTHER;
            break;
        }

        if (p == NULL) {
            return 0;
        }

        if (i >= 0) {
            /* jansson keeps the last of duplicates: simpler to leave it */

            if (fields[i].type != NGX_HTTP_TFA_RESEND_ABSENT) {
                return 0;
            }

            fields[i].type = type;

            if (type == NGX_HTTP_TFA_RESEND_STRING) {
                fields[i].data = value + 1;
                fields[i].len = p - 1 - (value + 1);
            }
        }

        /*
         * After a value, only white space, then ',' or '}': this also
         * refuses what jansson refuses right after a token ("truex", "01",
         * "1.5.2", "-").
         */

        p = ngx_http_tfa_resend_scan_space(p, end);

        if (p == end) {
            return 0;
        }

        if (*p == '}') {
            break;
        }

        if (*p != ',') {
            return 0;
        }

        p = ngx_http_tfa_resend_scan_space(p + 1, end);
    }

    p = ngx_http_tfa_resend_scan_space(p + 1, end);

    return p == end;
}


int
ngx_http_tfa_resend_canonical_error(int status, const unsigned char *pin_id,
    size_t pin_id_len, const char *message_id, const char *text,
    const char *call_status, const ngx_http_tfa_resend_allocator_t *allocator,
    ngx_http_tfa_resend_canonical_t *out)
{
    size_t                        mid_len;
    const char                   *cs;
    ngx_http_tfa_resend_parts_t   p;

    if (message_id == NULL) {
        message_id = ngx_http_tfa_resend_status_message_id(status);
    }

    mid_len = strlen(message_id);

    if (text == NULL) {
        text = ngx_http_tfa_resend_default_text(status,
                                      (const unsigned char *) message_id,
                                      mid_len);
    }

    cs = NULL;

    if (call_status) {
        const char  **v;

        /* the static copy, so that out->call_status outlives the caller's */

        for (v = ngx_http_tfa_resend_call_statuses; *v; v++) {
            if (strcmp(*v, call_status) == 0) {
                cs = *v;
                break;
            }
        }
    }

    if (cs == NULL) {
        cs = ngx_http_tfa_resend_error_call_status(status,
                                      (const unsigned char *) message_id,
                                      mid_len);
    }

    memset(&p, 0, sizeof(ngx_http_tfa_resend_parts_t));

    p.status = status;
    p.pin_id.data = pin_id;
    p.pin_id.len = pin_id ? pin_id_len : 0;
    p.call_status = cs;
    p.message_id.data = (const unsigned char *) message_id;
    p.message_id.len = mid_len;
    p.text.data = (const unsigned char *) text;
    p.text.len = strlen(text);

    return ngx_http_tfa_resend_emit(&p, allocator, out);
}


void
ngx_http_tfa_resend_canonical_free(ngx_http_tfa_resend_canonical_t *c)
{
    if (c == NULL) {
        return;
    }

    if (c->malloced) {
        free(c->body);
    }

    memset(c, 0, sizeof(ngx_http_tfa_resend_canonical_t));
}
