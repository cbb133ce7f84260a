# The module loads into Debian's nginx, its on/off switch is accepted where
# it is documented, and a wrong value fails the configuration test.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;

my ($rc, $out) = nginx_t(q{
    tfa_resend off;
    server {
        listen 127.0.0.1:1999;
        tfa_resend off;
        location / {
            tfa_resend off;
        }
    }
});
is($rc, 0, 'tfa_resend is accepted in http, server and location') or diag($out);

($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        location / {
            tfa_resend maybe;
        }
    }
});
isnt($rc, 0, 'tfa_resend maybe: nginx -t fails');
like($out, qr/\[emerg\] .*invalid value "maybe" in "tfa_resend" directive, it must be "on" or "off"/,
     'tfa_resend maybe: a clear [emerg]');

($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        location / {
            tfa_resend on off;
        }
    }
});
isnt($rc, 0, 'tfa_resend with two arguments: nginx -t fails');
like($out, qr/\[emerg\] .*invalid number of arguments in "tfa_resend" directive/,
     'tfa_resend with two arguments: a clear [emerg]');

($rc, $out) = nginx_t('', main => 'tfa_resend on;');
isnt($rc, 0, 'tfa_resend in the main context: nginx -t fails');
like($out, qr/\[emerg\] .*"tfa_resend" directive is not allowed here/,
     'tfa_resend in the main context: a clear [emerg]');

run_tests();

__DATA__

=== TEST 1: the module is loaded and off by default: requests pass untouched
--- config
    location = /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice {
        return 200 "untouched [$tfa_resend_pin_id]\n";
    }
--- request
GET /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- response_body
untouched []
--- no_error_log
[error]



=== TEST 2: tfa_resend off in a location overrides on inherited from the server
--- config
    tfa_resend on;
    tfa_resend_credentials basic "user:secret";

    location /2fa/ {
        tfa_resend off;
        return 200 "off here [$tfa_resend_pin_id]\n";
    }
--- request
GET /2fa/2/pin/9C817C6F8AF3D48F9FE553282AFA2B67/resend/voice
--- response_body
off here []
--- no_error_log
[error]
