
/*
 * The canonical resend response (docs/canonical-response.md):
 * every answer to an intercepted resend request is
 *
 *     {"pinId":...,"to":...,"callStatus":...[,"requestError":{...}]}
 *
 * whatever the upstream sent.  Plain C over jansson and PCRE2, with no nginx
 * headers, so that it can be unit-tested and fuzzed on its own.
 */


#ifndef _NGX_HTTP_TFA_RESEND_NORMALIZE_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_NORMALIZE_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_tfa_resend_answer.h"
#include "ngx_http_tfa_resend_status.h"
#include "ngx_http_tfa_resend_scan.h"


/*
 * Upstream answer -> canonical response.  Returns 0, or -1 only when memory
 * runs out (out is then left empty).  Free out with
 * ngx_http_tfa_resend_canonical_free() (nothing to do with an allocator).
 *
 * jansson is the parser of record.  A success answer that is a flat object
 * (the common case) is read by a strict scanner instead, which accepts only
 * what jansson reads to the same values and declines anything else (see
 * ngx_http_tfa_resend_scan()); the output is the same byte for byte.
 *
 * Where the contract leaves room, this is what it does:
 *
 *   - status < 400: the body alone decides (Content-Type is not checked);
 *     anything but a JSON object (empty, invalid JSON or UTF-8, cut short,
 *     an array or scalar) is unusable: 502, UPSTREAM_ERROR, callStatus
 *     ERROR, text "upstream answer is empty" / "... is not valid JSON" /
 *     "... is not a JSON object".  "\u0000" in a string is valid JSON and
 *     kept (escaped again on output).
 *   - status >= 400 keeps the status whatever the body: a body that cannot
 *     be read only loses its details (messageId from the status table).
 *   - the status: "callStatus", or "status" when "callStatus" is absent or
 *     null; an object gives its "name" when that is a non-blank string, else
 *     its "groupName".  On an error a blank status counts as none, and the
 *     messageId / HTTP status rules decide; NOT_ENOUGH_CREDITS or
 *     INSUFFICIENT_FUNDS anywhere in the messageId (any case) comes first.
 *   - the error shapes, first match wins: requestError.serviceException
 *     (an object; messageId if a non-empty string, text if a string,
 *     validationErrors unless absent or null, nothing else), then a
 *     non-empty string "errorCode", then a non-empty string "error", then
 *     "message".  Missing parts come from the status table; "text" then
 *     defaults to Infobip's wording ("Bad request", "Not found", ...).
 *   - plain text: the body is not a JSON object, is 1..256 bytes long (a
 *     longer body is not used at all rather than cut), and Content-Type is
 *     absent or text/plain (any case, parameters allowed).  Invalid UTF-8
 *     becomes U+FFFD; C0/C1 controls and DEL are dropped, except tab, CR
 *     and LF which become a space; runs of those spaces are collapsed and
 *     the text trimmed.  Nothing left: the status table's text.
 *   - "to": the upstream's "to" when it is a string, else null (a number
 *     is not turned into a string).
 *   - strings from the request (pinId) or the caller are made valid UTF-8
 *     (invalid bytes become U+FFFD), so the output always is.
 */
int ngx_http_tfa_resend_normalize(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out);

/*
 * A canonical response made by the gateway itself: its own 400, 405, 413,
 * 415, 429, 503, or 502 UPSTREAM_ERROR / 504 UPSTREAM_TIMEOUT for an
 * unusable upstream answer.  pin_id NULL gives "pinId":null; message_id NULL
 * takes it from the status (400 BAD_REQUEST ... 5xx GENERAL_ERROR); text
 * NULL gives a default text; call_status NULL (or not one of the 11) derives
 * it: ERROR_NOT_ENOUGH_CREDITS when the messageId says so, ERROR for 5xx,
 * else BAD_REQUEST.  requestError is present when status >= 400.  The body
 * comes from allocator (NULL: malloc()).  Returns 0, or -1 when memory runs
 * out.
 */
int ngx_http_tfa_resend_canonical_error(int status,
    const unsigned char *pin_id, size_t pin_id_len, const char *message_id,
    const char *text, const char *call_status,
    const ngx_http_tfa_resend_allocator_t *allocator,
    ngx_http_tfa_resend_canonical_t *out);

void ngx_http_tfa_resend_canonical_free(ngx_http_tfa_resend_canonical_t *c);


/*
 * The two ways through ngx_http_tfa_resend_normalize(), apart, for the unit
 * tests and the differential fuzzer (fuzz/normalize_diff_fuzz.c), which
 * checks that they agree on every input the scanner accepts (the scanner
 * itself is in ngx_http_tfa_resend_scan.h).
 */

/* ngx_http_tfa_resend_normalize() without the scanner: jansson only */
int ngx_http_tfa_resend_normalize_jansson(
    const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out);

/* with the scanner only: 1 when it declines (out untouched), else as above */
int ngx_http_tfa_resend_normalize_fast(const ngx_http_tfa_resend_answer_t *in,
    ngx_http_tfa_resend_canonical_t *out);


#endif /* _NGX_HTTP_TFA_RESEND_NORMALIZE_H_INCLUDED_ */
