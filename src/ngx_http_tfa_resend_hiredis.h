
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * hiredis's asynchronous API on nginx's event loop: the socket of a
 * redisAsyncContext becomes an nginx connection (ngx_get_connection) whose
 * read and write events call redisAsyncHandleRead / redisAsyncHandleWrite.
 * Nothing in here blocks, and nothing knows about HTTP or the limiter.
 */


#ifndef _NGX_HTTP_TFA_RESEND_HIREDIS_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_HIREDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


/*
 * Called once the context is being freed (by redisAsyncFree(), or by
 * hiredis itself after a connection error): its nginx connection is gone,
 * ac->errstr says why, and the context must not be used any more.
 */
typedef void (*ngx_http_tfa_resend_hiredis_gone_pt)(redisAsyncContext *ac,
    void *data);


/*
 * Attaches a context fresh from redisAsyncConnect() (ac->err == 0) to the
 * event loop.  On NGX_ERROR nothing is attached: the caller frees ac.
 */
ngx_int_t ngx_http_tfa_resend_hiredis_attach(redisAsyncContext *ac,
    ngx_log_t *log, ngx_http_tfa_resend_hiredis_gone_pt gone, void *data);


#endif /* _NGX_HTTP_TFA_RESEND_HIREDIS_H_INCLUDED_ */
