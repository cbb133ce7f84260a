
/*
 * Copyright (C) ngx_http_tfa_resend_module authors
 */


#ifndef _NGX_HTTP_TFA_RESEND_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_TFA_RESEND_CREDENTIALS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_tfa_resend_module.h"


/* tfa_resend_credentials basic|app file=PATH | env=NAME | SECRET */
char *ngx_http_tfa_resend_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * The credentials part of merge_loc_conf: inherits them, and decides
 * whether this location sends them (conf->own, set before the merge: the
 * location's block itself has tfa_resend or tfa_resend_credentials);
 * warns about a location that only inherits "tfa_resend on", and about
 * credentials sent to an https upstream whose certificate is not verified.
 */
char *ngx_http_tfa_resend_merge_credentials(ngx_conf_t *cf,
    ngx_http_tfa_resend_loc_conf_t *prev,
    ngx_http_tfa_resend_loc_conf_t *conf);


#endif /* _NGX_HTTP_TFA_RESEND_CREDENTIALS_H_INCLUDED_ */
