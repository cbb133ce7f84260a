
/*
 * The reader of upstream answers: see ngx_http_tfa_resend_upstream.c.
 * Plain C over jansson, no nginx headers.
 */


#ifndef _NGX_HTTP_TFA_RESEND_UPSTREAM_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_UPSTREAM_H_INCLUDED_


#include <stddef.h>
#include <jansson.h>

#include "ngx_http_tfa_resend_answer.h"
#include "ngx_http_tfa_resend_json.h"


/* a success answer (status < 400) that is a JSON object -> canonical */
int ngx_http_tfa_resend_upstream_success(
    const ngx_http_tfa_resend_answer_t *in, json_t *obj,
    ngx_http_tfa_resend_canonical_t *out);

/*
 * An error answer (status >= 400) -> canonical: keeps the status; obj is
 * the body if it is a JSON object, else NULL (then a short plain-text body
 * can give the text).
 */
int ngx_http_tfa_resend_upstream_error(const ngx_http_tfa_resend_answer_t *in,
    json_t *obj, ngx_http_tfa_resend_canonical_t *out);

/* the upstream's pinId if a non-empty string, else the request's, else null */
void ngx_http_tfa_resend_upstream_pin(const unsigned char *s, size_t len,
    const ngx_http_tfa_resend_answer_t *in, ngx_http_tfa_resend_str_t *pin);


#endif /* _NGX_HTTP_TFA_RESEND_UPSTREAM_H_INCLUDED_ */
