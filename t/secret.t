# The secret and the clients' credentials stay where they belong: no
# variable shows the configured credentials once the upstream request is
# built (its cache included); the upstream request carries only what the
# resend needs and the headers of tfa_resend_pass_header; the credentials go
# only from a location that names the module itself; a large body is
# refused before it is parsed; the go-live configuration verifies the
# upstream's certificate.
#
# The mock upstream is an nginx server that echoes, as plain text, the
# headers it received; the locations that use it turn the canonical
# response off (tfa_resend_normalize off).

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use MIME::Base64 qw(encode_base64);

$ENV{TEST_NGINX_TFA_MOCK_PORT} ||= free_port();
$ENV{TEST_NGINX_TFA_OTHER_PORT} ||= free_port($ENV{TEST_NGINX_TFA_MOCK_PORT});
$ENV{TEST_NGINX_TFA_XML_PORT} ||= free_port($ENV{TEST_NGINX_TFA_MOCK_PORT},
                                            $ENV{TEST_NGINX_TFA_OTHER_PORT});

our $pin = '9C817C6F8AF3D48F9FE553282AFA2B67';
our $ours = 'Basic ' . encode_base64('alice:s3cret-Upstream', '');
our $client = 'Basic ' . encode_base64('client:client-pw', '');

# the secret, plain and base64: in no log
our @secrets = ('alice:s3cret-Upstream', encode_base64('alice:s3cret-Upstream', ''),
                's3cret-Upstream');

my ($rc, $out);

# -- tfa_resend_pass_header: what it refuses ----------------------------

for my $name ('Authorization', 'proxy-authorization', 'COOKIE') {
    ($rc, $out) = nginx_t(qq{
        server {
            listen 127.0.0.1:1999;
            location /2fa/ {
                tfa_resend on;
                tfa_resend_credentials basic "alice:s3cret-Upstream";
                tfa_resend_pass_header X-Trace-Id $name;
                proxy_pass http://127.0.0.1:1998;
            }
        }
    });
    isnt($rc, 0, "tfa_resend_pass_header $name: nginx -t fails");
    like($out, qr/\[emerg\].*tfa_resend_pass_header cannot pass "\Q$name\E": it carries credentials/,
         "tfa_resend_pass_header $name: the [emerg] says why");
}

($rc, $out) = nginx_t(q{
    tfa_resend_pass_header X-Trace-Id;
    server {
        listen 127.0.0.1:1999;
        tfa_resend_pass_header X-Request-Id traceparent;
        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "alice:s3cret-Upstream";
            proxy_pass http://127.0.0.1:1998;
        }
    }
});
is($rc, 0, 'tfa_resend_pass_header at the http and server levels: nginx -t passes')
    or diag($out);

# -- where the credentials go: the three shapes of inheritance -----------

sub inherit_warnings {
    my $out = shift;
    my %n;
    $n{$1}++ while $out =~ /\[warn\].*tfa_resend: location "([^"]+)" only inherits "tfa_resend on": its resends are forwarded without credentials/g;
    return join ' ', map { "$_ x$n{$_}" } sort keys %n;
}

# 1. both at the http level: another server's proxy
($rc, $out) = nginx_t(q{
    tfa_resend on;
    tfa_resend_credentials basic "alice:s3cret-Upstream";
    server {
        listen 127.0.0.1:1999;
        location /2fa/ {
            tfa_resend on;
            proxy_pass http://127.0.0.1:1998;
        }
    }
    server {
        listen 127.0.0.1:1997;
        location / {
            proxy_pass http://127.0.0.1:1996;
        }
    }
});
is($rc, 0, 'both at the http level: nginx -t passes') or diag($out);
is(inherit_warnings($out), '/ x1',
   'both at the http level: one [warn] for the other server\'s location');

# 2. both at the server level: another location's proxy, an "if" in it
($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        location /2fa/ {
            tfa_resend on;
            proxy_pass http://127.0.0.1:1998;
        }
        location /reports/ {
            proxy_pass http://127.0.0.1:1996;
            if ($arg_x) {
                proxy_pass http://127.0.0.1:1995;
            }
        }
        location /static/ {
        }
    }
});
is($rc, 0, 'both at the server level: nginx -t passes') or diag($out);
is(inherit_warnings($out), '/reports/ x1',
   'both at the server level: one [warn], for the proxying location only');

# 3. credentials at the http level, tfa_resend on at the server level
($rc, $out) = nginx_t(q{
    tfa_resend_credentials basic "alice:s3cret-Upstream";
    server {
        listen 127.0.0.1:1999;
        tfa_resend on;
        location /2fa/1/ {
            proxy_pass http://127.0.0.1:1998;
        }
        location /2fa/2/ {
            tfa_resend_credentials app "Location-Key-1";
            proxy_pass http://127.0.0.1:1998;
        }
        location /2fa/ {
            tfa_resend on;
            proxy_pass http://127.0.0.1:1998;
        }
    }
});
is($rc, 0, 'credentials at http, tfa_resend on at server: nginx -t passes')
    or diag($out);
is(inherit_warnings($out), '/2fa/1/ x1',
   'credentials at http, tfa_resend on at server: one [warn], for the '
   . 'location that names neither');

# -- TLS: credentials to an https upstream that is not verified ----------

($rc, $out) = nginx_t(q{
    upstream infobip { server 127.0.0.1:1443; }
    server {
        listen 127.0.0.1:1999;
        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "alice:s3cret-Upstream";
            proxy_pass https://infobip;
        }
    }
});
is($rc, 0, 'https without proxy_ssl_verify: nginx -t passes') or diag($out);
like($out, qr{\[warn\].*tfa_resend: location "/2fa/" sends the credentials to an https upstream whose certificate is not verified},
     'https without proxy_ssl_verify: a [warn] names the location');

# the go-live configuration: conf/gateway.conf's resend location with the
# marked lines changed as the README says (an address for the name)
{
    open my $fh, '<', "$FindBin::Bin/../conf/gateway.conf" or die "gateway.conf: $!";
    local $/;
    my $conf = <$fh>;
    close $fh;

    my ($loc) = $conf =~ m{(location /2fa/ \{.*?\n        \})}s
        or die 'no "location /2fa/" in conf/gateway.conf';

    $loc =~ s{proxy_pass http://infobip;}{proxy_pass https://infobip;}
        or die 'no "proxy_pass http://infobip;" in conf/gateway.conf';
    $loc =~ s{tfa_resend_credentials [^;]*;}{tfa_resend_credentials basic "alice:s3cret-Upstream";};
    $loc =~ s{tfa_resend_limit zone=\w+;}{};

    ($rc, $out) = nginx_t(qq{
        upstream infobip { server 127.0.0.1:1443; keepalive 16; }
        server {
            listen 127.0.0.1:1999;
            $loc
        }
    });
    is($rc, 0, 'conf/gateway.conf gone live: nginx -t passes') or diag($out);
    unlike($out, qr/not verified/,
           'conf/gateway.conf gone live: the upstream certificate is verified');
    like($loc, qr{proxy_ssl_trusted_certificate /etc/ssl/certs/ca-certificates\.crt;},
         'conf/gateway.conf: Debian\'s CA bundle');
}

($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials basic "alice:s3cret-Upstream";
            proxy_pass http://127.0.0.1:1998;
        }
    }
});
unlike($out, qr/not verified/, 'plain http: no TLS [warn]');


our $http_config = <<'_EOC_';
    # echoes the headers it received
    server {
        listen 127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        default_type text/plain;
        error_log logs/mock-error.log warn;
        access_log off;

        location / {
            return 200 "auth=[$http_authorization] accept=[$http_accept] ct=[$http_content_type] cookie=[$http_cookie] pa=[$http_proxy_authorization] key=[$http_x_api_key] trace=[$http_x_trace_id] rid=[$http_x_request_id] user=[$http_x_remote_user] map=[$http_x_map]\n";
        }
    }
_EOC_

# what the echo answers: the named headers, empty for the others
sub echo {
    my %h = @_;
    return join(' ', map { "$_=[" . ($h{$_} // '') . ']' }
                qw(auth accept ct cookie pa key trace rid user map)) . "\n";
}

add_block_preprocessor(sub {
    my $block = shift;

    add_no_error_log($block, @secrets);

    if (!defined $block->http_config) {
        $block->set_value('http_config', $http_config);
    }

    if (!defined $block->request) {
        $block->set_value('request', "POST /2fa/2/pin/$pin/resend/voice");
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the nginx boilerplate reads $http_authorization and $remote_user while the upstream request is built: the upstream gets ours, and afterwards add_header, map and log_format show the client's
--- http_config eval
$::http_config . q{
    map $http_authorization $auth_copy {
        default $http_authorization;
    }

    log_format creds 'creds auth=[$http_authorization] user=[$remote_user] map=[$auth_copy]';
}
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        access_log logs/access.log creds;

        proxy_set_header Authorization $http_authorization;
        proxy_set_header X-Remote-User $remote_user;
        proxy_set_header X-Map $auth_copy;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;

        add_header X-Echo-Auth "[$http_authorization]" always;
        add_header X-Echo-User "[$remote_user]" always;
        add_header X-Echo-Map "[$auth_copy]" always;
    }
--- more_headers eval
"Authorization: $::client"
--- response_headers eval
"X-Echo-Auth: [$::client]\nX-Echo-User: [client]\nX-Echo-Map: [$::client]"
--- response_body eval
::echo(auth => $::ours, accept => 'application/json', user => 'client',
       map => $::ours)
--- access_log eval
"creds auth=[$::client] user=[client] map=[$::client]"
--- no_access_log eval
[@::secrets, 'alice']



=== TEST 2: an upstream hash reads $http_authorization while the upstream request is built; add_header and log_format show the client's afterwards
--- http_config eval
$::http_config . q{
    upstream hashed {
        hash $http_authorization;
        server 127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    log_format creds 'creds auth=[$http_authorization] user=[$remote_user]';
}
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        access_log logs/access.log creds;
        proxy_pass http://hashed;
        add_header X-Echo-Auth "[$http_authorization]" always;
    }
--- more_headers eval
"Authorization: $::client"
--- response_headers eval
"X-Echo-Auth: [$::client]"
--- response_body eval
::echo(auth => $::ours, accept => 'application/json')
--- access_log eval
"creds auth=[$::client] user=[client]"
--- no_access_log eval
[@::secrets]



=== TEST 3: $remote_user read only while the upstream request is built (proxy_set_header), then by the combined log: the client's user both times
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        access_log logs/access.log combined;
        proxy_set_header X-Remote-User $remote_user;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers eval
"Authorization: $::client"
--- response_body eval
::echo(auth => $::ours, accept => 'application/json', user => 'client')
--- access_log eval
qr/^127\.0\.0\.1 - client \[/
--- no_access_log
- alice [



=== TEST 4: the client's own credentials and other headers never reach the upstream: Proxy-Authorization, Cookie, X-Api-Key, X-Trace-Id; its Accept is replaced, its Content-Type of an empty body dropped
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Bearer client-token
Proxy-Authorization: Basic Z2F0ZXdheTpwYXNz
Cookie: session=client-session-42
X-Api-Key: client-api-key-7
X-Trace-Id: trace-1
Accept: application/xml
Content-Type: application/xml
--- response_body eval
::echo(auth => $::ours, accept => 'application/json')



=== TEST 5: tfa_resend_pass_header: inherited from the server level, names in any case; a location's own replaces it
--- config
    tfa_resend_pass_header x-TRACE-id X-Request-Id;

    location /2fa/2/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    location /2fa/1/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        tfa_resend_pass_header X-Api-Key;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice", "POST /2fa/1/pin/$::pin/resend/voice"]
--- more_headers
x-trace-id: trace-2
X-REQUEST-ID: req-2
X-Api-Key: client-api-key-7
Cookie: session=client-session-42
--- response_body eval
[::echo(auth => $::ours, accept => 'application/json', trace => 'trace-2', rid => 'req-2'),
 ::echo(auth => $::ours, accept => 'application/json', key => 'client-api-key-7')]



=== TEST 6: a body's Content-Type goes with it
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Content-Type: application/json; charset=utf-8
Accept: */*
--- request eval
"POST /2fa/2/pin/$::pin/resend/voice\n{}"
--- response_body eval
::echo(auth => $::ours, accept => 'application/json',
       ct => 'application/json; charset=utf-8')



=== TEST 7: both at the http level: another server's proxy gets no credentials, and no client Authorization either; a location that says "tfa_resend on" gets them
--- http_config eval
$::http_config . q{
    tfa_resend on;
    tfa_resend_credentials basic "alice:s3cret-Upstream";

    # another service behind the same nginx
    server {
        listen 127.0.0.1:$TEST_NGINX_TFA_OTHER_PORT;
        tfa_resend_normalize off;

        location / {
            proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        }
    }
}
--- config
    tfa_resend_normalize off;

    location /other/ {
        tfa_resend off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_OTHER_PORT/;
    }

    location /2fa/ {
        tfa_resend on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers eval
"Authorization: $::client"
--- request eval
["POST /other/2fa/2/pin/$::pin/resend/voice", "POST /2fa/2/pin/$::pin/resend/voice"]
--- response_body eval
[::echo(accept => 'application/json'),
 ::echo(auth => $::ours, accept => 'application/json')]



=== TEST 8: both at the server level: another location's proxy (and an "if" in it) gets no credentials
--- config
    tfa_resend on;
    tfa_resend_credentials basic "alice:s3cret-Upstream";
    tfa_resend_normalize off;

    location /reports/ {
        rewrite ^/reports(/.*)$ $1 break;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;

        if ($arg_if) {
            proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        }
    }

    location /2fa/ {
        tfa_resend on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
["POST /reports/2fa/2/pin/$::pin/resend/voice",
 "POST /reports/2fa/2/pin/$::pin/resend/voice?if=1",
 "POST /2fa/2/pin/$::pin/resend/voice"]
--- response_body eval
[::echo(accept => 'application/json'), ::echo(accept => 'application/json'),
 ::echo(auth => $::ours, accept => 'application/json')]



=== TEST 9: credentials at the http level, tfa_resend on at the server level: a location that names neither gets none; one with its own "tfa_resend on" or credentials gets them
--- http_config eval
$::http_config . q{
    tfa_resend_credentials basic "alice:s3cret-Upstream";
}
--- config
    tfa_resend on;
    tfa_resend_normalize off;

    location /2fa/1/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    location /2fa/2/ {
        tfa_resend on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    location /x/ {
        rewrite ^/x(/.*)$ $1 break;
        tfa_resend_credentials app "Location-Key-1";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
["POST /2fa/1/pin/$::pin/resend/voice", "POST /2fa/2/pin/$::pin/resend/voice",
 "POST /x/2fa/2/pin/$::pin/resend/voice"]
--- response_body eval
[::echo(accept => 'application/json'),
 ::echo(auth => $::ours, accept => 'application/json'),
 ::echo(auth => 'App Location-Key-1', accept => 'application/json')]



=== TEST 10: a body over tfa_resend_max_body_size (16k by default) is refused with the canonical 413 before it is parsed, nothing forwarded; a body under it goes on
--- config
    location /2fa/ {
        client_max_body_size 4m;
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Content-Type: application/json
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice\n{" . (CORE::join ',', map { "\"k$_\":1" } 1 .. 110000) . '}',
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":{\"a\":\"" . ('x' x 16400) . '"}}',
 "POST /2fa/2/pin/$::pin/resend/voice\n{\"placeholders\":{\"a\":\"" . ('x' x 16000) . '"}}']
--- error_code eval
[413, 413, 502]
--- response_body_like eval
[map({ qr/^\Q$_\E$/ }
     (::refusal($::pin, 'REQUEST_TOO_LARGE', 'body is larger than tfa_resend_max_body_size')) x 2),
 qr/"messageId":"UPSTREAM_ERROR"/]
--- no_error_log
invalid request body



=== TEST 11: tfa_resend_max_body_size applies to a chunked body too, once read, before it is parsed
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_max_body_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Transfer-Encoding: chunked
Content-Type: application/json
--- request eval
my $b = '{"placeholders":{"a":"' . ('x' x 1100) . '"}}';
"POST /2fa/2/pin/$::pin/resend/voice\n" . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $b, $b)
--- error_code: 413
--- response_body eval
::refusal($::pin, 'REQUEST_TOO_LARGE', 'body is larger than tfa_resend_max_body_size')



=== TEST 12: a client asking for XML gets its calls counted: the upstream is asked for JSON, so six resends with "Accept: application/xml" and a 3/10m limit admit three
--- http_config eval
qq{
    tfa_resend_limit_zone zone=xml:1m rate=3/10m;

    # answers in the format asked for, as the API does
    server {
        listen 127.0.0.1:$ENV{TEST_NGINX_TFA_XML_PORT};
        error_log logs/mock-error.log warn;
        access_log off;

        location /2fa/ {
            if (\$http_accept ~* xml) {
                rewrite ^ /xml last;
            }
            default_type application/json;
            return 200 '{"pinId":"$::pin","to":"41793026727","callStatus":"PENDING_ACCEPTED"}';
        }

        location = /xml {
            internal;
            default_type application/xml;
            return 200 '<response><pinId>$::pin</pinId><callStatus>PENDING_ACCEPTED</callStatus></response>';
        }
    }
}
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        tfa_resend_limit zone=xml;
        tfa_resend_limit_refund on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_XML_PORT;
    }
--- more_headers
Accept: application/xml
--- request eval
[("POST /2fa/2/pin/$::pin/resend/voice") x 6]
--- error_code eval
[200, 200, 200, 429, 429, 429]
--- response_body_like eval
[(qr/^\Q${\ ::canonical_ok($::pin)}\E$/) x 3, (qr/"messageId":"TOO_MANY_REQUESTS"/) x 3]
