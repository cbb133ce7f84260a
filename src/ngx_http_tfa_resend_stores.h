
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The table of the kinds of store (ngx_http_tfa_resend_stores.c), which
 * the zone directive reads.  It sits above the stores it names; the
 * interface every store implements is ngx_http_tfa_resend_store.h.
 */


#ifndef _NGX_HTTP_TFA_RESEND_STORES_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_STORES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_store.h"


/*
 * The row of the table that takes value, a store= parameter (NULL: the
 * default, store=shm); or an [emerg] logged and NULL.
 */
const ngx_http_tfa_resend_store_kind_t *ngx_http_tfa_resend_store_kind(
    ngx_conf_t *cf, ngx_str_t *value);

/*
 * Whether value is a parameter of some kind of store: the syntax of the
 * first such kind, for messages (or ""); else NULL.
 */
char *ngx_http_tfa_resend_store_param(ngx_str_t *value);

/* NGX_OK: every one of params (ngx_str_t, or NULL) is the kind's own */
ngx_int_t ngx_http_tfa_resend_store_check_params(ngx_conf_t *cf,
    const ngx_http_tfa_resend_store_kind_t *kind, ngx_array_t *params);



#endif /* _NGX_HTTP_TFA_RESEND_STORES_H_INCLUDED_ */
