# Internal redirects (error_page, try_files, named locations): a resend is
# checked and admitted once, whichever locations it passes through; no
# upstream of an intercepted resend gets the client's own Authorization; an
# error page sent for it is the canonical answer with the X-RateLimit-*
# headers.
#
# The mock upstream answers like the API and puts the Authorization it
# received in "to", which the canonical answer keeps: the client's view
# shows what the upstream got.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use MIME::Base64 qw(encode_base64);

$ENV{TEST_NGINX_TFA_MOCK_PORT} ||= free_port();
$ENV{TEST_NGINX_TFA_DEAD_PORT} ||= free_port($ENV{TEST_NGINX_TFA_MOCK_PORT});

our $pin = '9C817C6F8AF3D48F9FE553282AFA2B67';
our $ours = 'Basic ' . encode_base64('alice:s3cret-Upstream', '');

our @secrets = ('alice:s3cret-Upstream', encode_base64('alice:s3cret-Upstream', ''));

our $http_config = <<'_EOC_';
    tfa_resend_limit_zone zone=pins:1m rate=3/10m;

    server {
        listen 127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        default_type application/json;
        error_log logs/mock-error.log warn;
        access_log off;

        location ~ ^/2fa/2/pin/(?<pin>\w+)/resend/voice$ {
            return 200 '{"pinId":"$pin","to":"auth=[$http_authorization]","callStatus":"PENDING_ACCEPTED"}';
        }

        location /fail/ {
            default_type text/html;
            return 500 '<html><body>upstream failure</body></html>';
        }
    }
_EOC_

# the canonical success answer, with what the upstream got in "to"
sub ok_with {
    my ($p, $auth) = @_;
    return qq({"pinId":"$p","to":"auth=[$auth]","callStatus":"PROCESSING"});
}

sub pin_n { sprintf '%032d', shift }

add_block_preprocessor(sub {
    my $block = shift;

    add_no_error_log($block, @secrets);

    if (!defined $block->http_config) {
        $block->set_value('http_config', $http_config);
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: proxy_intercept_errors and error_page to a static page: the client gets the canonical answer and the X-RateLimit-* headers, not the page
--- user_files
>>> err.html
<html><body>sorry</body></html>
--- config
    tfa_resend_limit zone=pins;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT/fail/;
        proxy_intercept_errors on;
        error_page 500 /err.html;
    }

    location = /err.html {
        root html;
    }
--- request eval
"POST /2fa/2/pin/" . ::pin_n(1) . "/resend/voice"
--- error_code: 500
--- response_headers
Content-Type: application/json
X-RateLimit-Limit: 3
X-RateLimit-Remaining: 2
--- response_body eval
'{"pinId":"' . ::pin_n(1) . '","to":null,"callStatus":"ERROR","requestError":{"serviceException":{"messageId":"GENERAL_ERROR","text":"General error"}}}'



=== TEST 2: error_page 502 = @backup: the backup location gets neither the client's Authorization nor, unless it names the module itself, the credentials; the resend is admitted once
--- config
    tfa_resend_limit zone=pins;

    location /2fa/2/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_DEAD_PORT;
        error_page 502 = @backup;
    }

    location @backup {
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Bearer client-own-token
--- request eval
[("POST /2fa/2/pin/" . ::pin_n(2) . "/resend/voice") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["X-RateLimit-Remaining: 2", "X-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0"]
--- response_body_like eval
[(qr/^\Q${\ ::ok_with(::pin_n(2), '')}\E$/) x 3, qr/"messageId":"TOO_MANY_REQUESTS"/]



=== TEST 3: error_page 502 = @backup where the backup names the module: it gets the credentials; admitted once
--- config
    tfa_resend_limit zone=pins;

    location /2fa/2/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_DEAD_PORT;
        error_page 502 = @backup;
    }

    location @backup {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Bearer client-own-token
--- request eval
[("POST /2fa/2/pin/" . ::pin_n(3) . "/resend/voice") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_body_like eval
[(qr/^\Q${\ ::ok_with(::pin_n(3), $::ours)}\E$/) x 3, qr/"messageId":"TOO_MANY_REQUESTS"/]



=== TEST 4: try_files to a named location with the module on: each resend is counted once
--- config
    tfa_resend_limit zone=pins;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        try_files /nonexistent @backend;
    }

    location @backend {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
[("POST /2fa/2/pin/" . ::pin_n(4) . "/resend/voice") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["X-RateLimit-Remaining: 2", "X-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0"]
--- response_body_like eval
[(qr/^\Q${\ ::ok_with(::pin_n(4), $::ours)}\E$/) x 3, qr/"messageId":"TOO_MANY_REQUESTS"/]



=== TEST 5: error_page to a named location with the module on: each resend is counted once
--- config
    tfa_resend_limit zone=pins;

    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_DEAD_PORT;
        error_page 502 = @retry;
    }

    location @retry {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
[("POST /2fa/2/pin/" . ::pin_n(5) . "/resend/voice") x 4]
--- error_code eval
[200, 200, 200, 429]
--- response_headers eval
["X-RateLimit-Remaining: 2", "X-RateLimit-Remaining: 1",
 "X-RateLimit-Remaining: 0", "X-RateLimit-Remaining: 0"]



=== TEST 6: a resend refused before it was admitted (a chunked body over client_max_body_size) is never passed on by the error page's location
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "alice:s3cret-Upstream";
        client_max_body_size 10;
        error_page 413 = @big;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    location @big {
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
my $b = '{"placeholders":{"a":"bbbbbbbbbbbbbbbbb"}}';
"POST /2fa/2/pin/" . ::pin_n(6) . "/resend/voice\n"
. sprintf("%x\r\n%s\r\n0\r\n\r\n", length $b, $b)
--- error_code: 413
--- response_body eval
'{"pinId":"' . ::pin_n(6) . '","to":null,"callStatus":"BAD_REQUEST","requestError":{"serviceException":{"messageId":"REQUEST_TOO_LARGE","text":"Request too large"}}}'
