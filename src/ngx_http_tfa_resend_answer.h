
/*
 * What the normalizer takes and gives: the upstream's answer as the filter
 * collected it, and the canonical response made of it.  Types only, so that
 * the writer and the upstream reader can share them with the entry points
 * without including them.
 */


#ifndef _NGX_HTTP_TFA_RESEND_ANSWER_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_ANSWER_H_INCLUDED_


#include <stddef.h>

#include "ngx_http_tfa_resend_status.h"


/* a plain-text upstream error body is used as "text" only up to this size */
#define NGX_HTTP_TFA_RESEND_PLAIN_TEXT_MAX  256


/*
 * Where the canonical body comes from.  The filter passes the request's pool:
 * the body is then written once, where nginx sends it from, with no copy and
 * nothing to free.  Without one (NULL), malloc().
 */
typedef void *(*ngx_http_tfa_resend_alloc_pt)(void *data, size_t size);

typedef struct {
    ngx_http_tfa_resend_alloc_pt             alloc;
    void                                    *data;
} ngx_http_tfa_resend_allocator_t;


typedef struct {
    int                                      status;
    const unsigned char                     *body;
    size_t                                   body_len;
    const unsigned char                     *content_type;  /* or NULL */
    size_t                                   content_type_len;
    const unsigned char                     *pin_id;   /* request's, or NULL */
    size_t                                   pin_id_len;
    const ngx_http_tfa_resend_status_map_t  *map;      /* or NULL */
    const ngx_http_tfa_resend_allocator_t   *allocator;  /* or NULL */
} ngx_http_tfa_resend_answer_t;


typedef struct {
    int          status;           /* HTTP status to send */
    char        *body;             /* canonical JSON, NUL-terminated, from
                                      the allocator (one block with
                                      message_id) */
    size_t       body_len;
    const char  *call_status;      /* static: one of the 11 values */
    char        *message_id;       /* NUL-terminated, in body's block; NULL
                                      when status < 400 */
    size_t       message_id_len;
    int          malloced;         /* body is malloc()'s: canonical_free()
                                      frees it */
} ngx_http_tfa_resend_canonical_t;


#endif /* _NGX_HTTP_TFA_RESEND_ANSWER_H_INCLUDED_ */
