
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * The shared-memory store: exact sliding windows per pinId in one nginx
 * server's shared memory zone, shared by all its worker processes.
 */


#ifndef _NGX_HTTP_TFA_RESEND_SHM_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_tfa_resend_store.h"


/* a pinId up to this long is kept as it is, a longer one by its SHA-1 */
#define NGX_HTTP_TFA_RESEND_SHM_KEY_LEN  32


extern const ngx_http_tfa_resend_store_type_t  ngx_http_tfa_resend_shm_store;


/*
 * Makes store (its shm_zone, name, limit and window set) a shared-memory
 * store: sets store->type, store->data and the zone's init handler.  The
 * create of the "shm" kind (ngx_http_tfa_resend_store_kind_t), which has
 * no parameters of its own; value and params may be NULL.
 */
ngx_int_t ngx_http_tfa_resend_shm_create(ngx_conf_t *cf,
    ngx_http_tfa_resend_store_t *store, ngx_str_t *value,
    ngx_array_t *params);

/* the shm_zone->init of a shared-memory store, for a store that wraps one */
ngx_int_t ngx_http_tfa_resend_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

/*
 * For the metrics page: the pinIds the zone tracks now, and the bytes of
 * its slab's free pages (a node freed by expiry or refund stays carved for
 * the next pinId and is not counted).
 */
void ngx_http_tfa_resend_shm_usage(ngx_http_tfa_resend_store_t *store,
    ngx_uint_t *pins, size_t *bytes);


#endif /* _NGX_HTTP_TFA_RESEND_SHM_H_INCLUDED_ */
