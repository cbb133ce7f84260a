
/*
 * Request checks for the 2FA resend-over-voice gateway: the path shape, the
 * pinId's case, the pinId pattern, the request body and the credentials
 * text.
 *
 * Plain C over jansson and PCRE2, with no nginx headers, so that it can be
 * unit-tested and fuzzed on its own.  Strings are (pointer, length) pairs:
 * nginx strings are not NUL-terminated.
 */


#ifndef _NGX_HTTP_TFA_RESEND_CHECK_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_CHECK_H_INCLUDED_


#include <stddef.h>


/* every published pinId is 32 hex characters; the API documents no pattern */
#define NGX_HTTP_TFA_RESEND_PIN_PATTERN  "^[0-9A-Fa-f]{32}$"


typedef struct ngx_http_tfa_resend_pattern_s  ngx_http_tfa_resend_pattern_t;


typedef enum {
    NGX_HTTP_TFA_RESEND_PATH_OTHER = 0,
    NGX_HTTP_TFA_RESEND_PATH_EXACT,
    NGX_HTTP_TFA_RESEND_PATH_NEAR_MISS
} ngx_http_tfa_resend_path_e;


/* what ngx_http_tfa_resend_match_path() found; offsets are into the path */
typedef struct {
    size_t       prefix_len;   /* EXACT: bytes before "/2fa/" */
    size_t       pin_off;      /* EXACT: where the pinId starts */
    size_t       pin_len;      /* EXACT: its length, never 0 */
    const char  *reason;       /* NEAR_MISS: static text for a 400 */
} ngx_http_tfa_resend_path_t;


/* tfa_resend_pin_case: how a pinId is folded before anything reads it */
typedef enum {
    NGX_HTTP_TFA_RESEND_PIN_CASE_OFF = 0,
    NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER,
    NGX_HTTP_TFA_RESEND_PIN_CASE_LOWER
} ngx_http_tfa_resend_pin_case_e;


/*
 * Classifies a path (the query string already cut off):
 *
 * EXACT: the path ends with "/2fa/{1|2}/pin/{pinId}/resend/voice", the
 *     fixed parts in lower case exactly, the pinId one non-empty segment
 *     (any bytes but '/', NUL included: the pattern check judges them),
 *     and what comes before "/2fa/" is empty or starts with '/'.
 *     m->prefix_len, m->pin_off and m->pin_len say where the parts are, so
 *     path + m->prefix_len is the API's own path; m->reason is NULL.
 *
 * NEAR_MISS: not EXACT, but the path with ASCII letters folded to lower
 *     case and each run of '/' taken as one contains "/resend/voice":
 *     a trailing slash, ";jsessionid=...", "VOICE", "/resend//voice", an
 *     empty pinId, "/2fa/3/...", no "/2fa/{1|2}/pin" at all, anything
 *     after "voice".  m->reason is a short static text for the 400 that
 *     quotes nothing from the path; the offsets are 0.
 *
 * OTHER: everything else, the other 2FA calls included ("/verify",
 *     "/resend" over SMS, sending a PIN).  The offsets are 0, reason NULL.
 *
 * Returns the class.  m may be NULL; path may be NULL when len is 0.
 * Reads each byte a bounded number of times: linear in len.
 */
ngx_http_tfa_resend_path_e ngx_http_tfa_resend_match_path(
    const unsigned char *path, size_t len, ngx_http_tfa_resend_path_t *m);

/*
 * Copies len bytes of a pinId from src to dst, folding ASCII letters to
 * upper (NGX_HTTP_TFA_RESEND_PIN_CASE_UPPER) or lower case (..._LOWER);
 * ..._OFF and any other mode copy the bytes as they are.  Bytes >= 0x80
 * are never changed, whatever the locale.  dst may be src (folds in
 * place); otherwise the two must not overlap.  Returns dst + len.
 */
unsigned char *ngx_http_tfa_resend_fold_pin(unsigned char *dst,
    const unsigned char *src, size_t len, ngx_http_tfa_resend_pin_case_e mode);

/*
 * The whole-URI parser the handler called before it moved to
 * ngx_http_tfa_resend_match_path(); the module no longer calls it, the
 * path fuzzer still holds the matcher to it.
 *
 * Returns 1 if the decoded URI is exactly "/2fa/1/pin/{pinId}/resend/voice"
 * or "/2fa/2/pin/{pinId}/resend/voice", and points *pin / *pin_len at the
 * pinId segment (may be empty; never contains '/'); returns 0 otherwise and
 * leaves *pin / *pin_len untouched.  pin and pin_len may be NULL.
 */
int ngx_http_tfa_resend_parse_uri(const unsigned char *uri, size_t len,
    const unsigned char **pin, size_t *pin_len);

/*
 * Compiles a PCRE2 pattern over bytes (no PCRE2_UTF), with
 * PCRE2_DOLLAR_ENDONLY so that "$" never matches before a final newline,
 * JIT-compiled when the library supports it.  Returns NULL on error with a
 * message in err ("invalid regex ... at offset N", or an allocation failure).
 * The match data lives inside the object: one object must not be used by
 * two threads at once (nginx workers are single-threaded).
 */
ngx_http_tfa_resend_pattern_t *ngx_http_tfa_resend_pattern_compile(
    const unsigned char *re, size_t len, char *err, size_t errlen);

/* the same, with caseless != 0 adding PCRE2_CASELESS ("~*" in a map) */
ngx_http_tfa_resend_pattern_t *ngx_http_tfa_resend_pattern_compile_ex(
    const unsigned char *re, size_t len, int caseless, char *err,
    size_t errlen);

/*
 * Returns 1 on a match, 0 otherwise.  A subject that contains a NUL byte
 * never matches, and a matching error (match or JIT stack limit) counts as
 * no match: the check fails closed.
 */
int ngx_http_tfa_resend_pattern_match(ngx_http_tfa_resend_pattern_t *p,
    const unsigned char *s, size_t len);

void ngx_http_tfa_resend_pattern_free(ngx_http_tfa_resend_pattern_t *p);

/*
 * Validates a resend request body.  Returns 0 when the body is empty or a
 * JSON object whose "placeholders" (if present) is an object of strings and
 * whose "trackDelivery" (if present) is a boolean; other keys pass.  Returns
 * -1 otherwise, with one of these reasons copied (NUL-terminated, truncated
 * to reason_len) into reason:
 *     "body is not valid JSON"      (also: duplicate keys, invalid UTF-8,
 *                                    "\u0000", nesting deeper than jansson's
 *                                    JSON_PARSER_MAX_DEPTH)
 *     "body must be a JSON object"
 *     "placeholders must be an object of strings"
 *     "trackDelivery must be a boolean"
 */
int ngx_http_tfa_resend_check_body(const unsigned char *body, size_t len,
    char *reason, size_t reason_len);

/*
 * Validates credentials text read from a file or an environment variable:
 * one line, with one trailing "\n" or "\r\n" allowed; the secret is data[0,
 * *out_len).  basic != 0: "username:password" with a non-empty username
 * (the password may be empty); basic == 0: an API key, no spaces.  No control
 * characters (bytes < 0x20 or 0x7f) in either.  Returns 0, or -1 with a
 * reason that never quotes the secret.
 */
int ngx_http_tfa_resend_parse_secret(const unsigned char *data, size_t len,
    int basic, size_t *out_len, char *reason, size_t reason_len);


#endif /* _NGX_HTTP_TFA_RESEND_CHECK_H_INCLUDED_ */
