
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 *
 * $tfa_resend_* variables: read-only views of the request's resend state.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"
#include "ngx_http_tfa_resend_response.h"
#include "ngx_http_tfa_resend_variables.h"


static void ngx_http_tfa_resend_set_variable(ngx_http_variable_value_t *v,
    u_char *data, size_t len);
static ngx_int_t ngx_http_tfa_resend_pin_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tfa_resend_call_status_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);

/* limiter */
static ngx_int_t ngx_http_tfa_resend_limit_status_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_tfa_resend_limit_remaining_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);


static ngx_http_variable_t  ngx_http_tfa_resend_vars[] = {

    { ngx_string("tfa_resend_pin_id"), NULL,
      ngx_http_tfa_resend_pin_id_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tfa_resend_call_status"), NULL,
      ngx_http_tfa_resend_call_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    /* limiter */

    { ngx_string("tfa_resend_limit_status"), NULL,
      ngx_http_tfa_resend_limit_status_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("tfa_resend_limit_remaining"), NULL,
      ngx_http_tfa_resend_limit_remaining_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static void
ngx_http_tfa_resend_set_variable(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
}


static ngx_int_t
ngx_http_tfa_resend_pin_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_http_tfa_resend_get_ctx(r->main);

    if (ctx == NULL) {
        ngx_http_tfa_resend_set_variable(v, (u_char *) "", 0);
        return NGX_OK;
    }

    ngx_http_tfa_resend_set_variable(v, ctx->pin_id.data, ctx->pin_id.len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_tfa_resend_call_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_http_tfa_resend_get_ctx(r->main);

    if (ctx == NULL || ctx->call_status == NULL) {
        ngx_http_tfa_resend_set_variable(v, (u_char *) "", 0);
        return NGX_OK;
    }

    ngx_http_tfa_resend_set_variable(v, (u_char *) ctx->call_status,
                                     ngx_strlen(ctx->call_status));

    return NGX_OK;
}


/* limiter */

static ngx_int_t
ngx_http_tfa_resend_limit_status_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_tfa_resend_ctx_t  *ctx;

    static ngx_str_t  states[] = {
        ngx_null_string,                   /* NGX_HTTP_TFA_RESEND_LIMIT_NONE */
        ngx_null_string,                   /* ..._PENDING */
        ngx_string("PASSED"),
        ngx_string("REJECTED"),
        ngx_string("REJECTED_DRY_RUN")
    };

    ctx = ngx_http_tfa_resend_get_ctx(r->main);

    if (ctx == NULL
        || ctx->limit_state >= sizeof(states) / sizeof(states[0]))
    {
        ngx_http_tfa_resend_set_variable(v, (u_char *) "", 0);
        return NGX_OK;
    }

    ngx_http_tfa_resend_set_variable(v, states[ctx->limit_state].data,
                                     states[ctx->limit_state].len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_tfa_resend_limit_remaining_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                     *p;
    ngx_http_tfa_resend_ctx_t  *ctx;

    ctx = ngx_http_tfa_resend_get_ctx(r->main);

    if (ctx == NULL
        || ((ctx->limit_state == NGX_HTTP_TFA_RESEND_LIMIT_NONE
             || ctx->limit_state == NGX_HTTP_TFA_RESEND_LIMIT_PENDING)
            && !ctx->limit_inspected))
    {
        ngx_http_tfa_resend_set_variable(v, (u_char *) "", 0);
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_http_tfa_resend_set_variable(v, p,
                                     ngx_sprintf(p, "%ui",
                                                 ctx->limit_remaining) - p);

    return NGX_OK;
}


ngx_int_t
ngx_http_tfa_resend_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_tfa_resend_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}
