
/*
 * The reader of upstream answers: see ngx_http_tfa_resend_upstream.c.
 * Plain C over jansson, no nginx headers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_UPSTREAM_H_INCLUDED_


#include <stddef.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_normalize.h"
#include "ngx_http_tfa_resend_json.h"


/* 1 and the string if obj[key] is a string, else 0 */
int ngx_http_tfa_resend_get_string(json_t *obj, const char *key,
    const unsigned char **s, size_t *len);

/*
 * Rule 1 of "Reading the upstream status": "callStatus", or "status" when
 * "callStatus" is absent or null; a string as is, an object by its "name"
 * when that is a string with something in it, else by its "groupName".
 * Returns 1 with the string, or 0 when the answer carries no status string.
 */
int ngx_http_tfa_resend_upstream_status(json_t *obj,
    const unsigned char **s, size_t *len);

/* the upstream's pinId if a non-empty string, else the request's, else null */
void ngx_http_tfa_resend_pin(const unsigned char *s, size_t len,
    const ngx_http_tfa_resend_answer_t *in, ngx_http_tfa_resend_str_t *pin);

/* an error answer (status >= 400): keep the status, canonicalize the body */
int ngx_http_tfa_resend_error(const ngx_http_tfa_resend_answer_t *in,
    json_t *obj, ngx_http_tfa_resend_canonical_t *out);


#endif /* _NGX_HTTP_TFA_RESEND_UPSTREAM_H_INCLUDED_ */
