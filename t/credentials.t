# The upstream credentials: tfa_resend_credentials from a file, an
# environment variable or inline; "Basic" or "App"; errors that fail
# nginx -t and name the file or the variable but never the secret; a [warn]
# for a file others can read; a reload that reads a rotated file; and the
# secret, plain or base64, never in the error log, at any level (Test::Nginx
# logs at debug level: every block below is checked).
#
# Configuration errors are reported on nginx's start-up log, which for
# Debian's nginx is stderr: nginx_t() (t/TfaResend.pm) runs nginx -t and
# returns what it printed.

use Test::Nginx::Socket 'no_plan';
use FindBin;
use lib $FindBin::Bin;
use TfaResend;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);

$ENV{TEST_NGINX_TFA_MOCK_PORT} ||= free_port();
$ENV{TEST_NGINX_HTML_DIR} ||= html_dir();

# an API key passed to nginx from the environment ("env NAME;")
$ENV{TFA_TEST_APP_KEY} = 'Env-App-Key-5d9e';
delete $ENV{TFA_TEST_UNSET};

our $pin = '9C817C6F8AF3D48F9FE553282AFA2B67';

# Debian's nginx has --with-debug; one built without it (as by default, or
# util/matrix.sh) writes no debug line at all
our $nginx_debug = `$Test::Nginx::Util::NginxBinary -V 2>&1` =~ /--with-debug/;
our $redacted = 'tfa_resend: upstream Authorization set from '
                . 'tfa_resend_credentials (value redacted)';

sub b64 { encode_base64(shift, '') }

# every secret of this file, as written and as sent
our @plain = ('alice:F1le-Secret-9a', 'F1le-App-Key-77c1', 'bob:Env-Value-3b',
              'Env-App-Key-5d9e', 'carol:Inline-Secret-8',
              'dave:Old-Rotating-1', 'dave:New-Rotating-2',
              'erin:Crlf-Secret-6', 'frank:Server-Level-4',
              'grace:Http-Level-2');
our @secrets = map { ($_, b64($_)) } @plain;

# the secrets in the files made for nginx -t below
our @bad = ('NoColon-Secret-4242', 'alice:TwoLine-Secret', 'Key With Space-99',
            'InlineNoColon-Secret-5', 'alice:Readable-Secret-1');

my $dir = tempdir(CLEANUP => 1);

sub location {
    my $cred = shift;
    return qq{
    server {
        listen 127.0.0.1:1999;
        location /2fa/ {
            tfa_resend on;
            tfa_resend_credentials $cred;
            proxy_pass http://127.0.0.1:1998;
        }
    }};
}

sub no_secret {
    my ($out, $what) = @_;
    for my $s (@bad, @secrets) {
        unlike($out, qr/\Q$s\E/, "$what: the secret is not printed ($s)");
    }
}

my ($rc, $out, $f);

# -- a file: missing, empty, malformed ----------------------------------

($rc, $out) = nginx_t(location("basic file=$dir/missing-creds.txt"));
isnt($rc, 0, 'missing file: nginx -t fails');
like($out, qr/\[emerg\].*open\(\) "\Q$dir\E\/missing-creds\.txt" failed/,
     'missing file: the [emerg] names the file');

$f = secret_file($dir, 'empty.txt', '');
($rc, $out) = nginx_t(location("basic file=$f"));
isnt($rc, 0, 'empty file: nginx -t fails');
like($out, qr/\[emerg\].*invalid credentials in file "\Q$f\E": credentials are empty/,
     'empty file: the [emerg] names the file');

$f = secret_file($dir, 'newline-only.txt', "\n");
($rc, $out) = nginx_t(location("basic file=$f"));
isnt($rc, 0, 'a file with an empty line: nginx -t fails');
like($out, qr/\[emerg\].*invalid credentials in file "\Q$f\E": credentials are empty/,
     'a file with an empty line: the [emerg] names the file');

$f = secret_file($dir, 'nocolon.txt', "NoColon-Secret-4242\n");
($rc, $out) = nginx_t(location("basic file=$f"));
isnt($rc, 0, 'no "username:password": nginx -t fails');
like($out, qr/\[emerg\].*invalid credentials in file "\Q$f\E": credentials must be "username:password"/,
     'no "username:password": the [emerg] names the file');
no_secret($out, 'no "username:password"');

$f = secret_file($dir, 'twolines.txt', "alice:TwoLine-Secret\nbob:other\n");
($rc, $out) = nginx_t(location("basic file=$f"));
isnt($rc, 0, 'two lines: nginx -t fails');
like($out, qr/\[emerg\].*invalid credentials in file "\Q$f\E": credentials must be a single line/,
     'two lines: the [emerg] names the file');
no_secret($out, 'two lines');

$f = secret_file($dir, 'spaced-key.txt', "Key With Space-99\n");
($rc, $out) = nginx_t(location("app file=$f"));
isnt($rc, 0, 'an API key with spaces: nginx -t fails');
like($out, qr/\[emerg\].*invalid credentials in file "\Q$f\E": API key must not contain spaces/,
     'an API key with spaces: the [emerg] names the file');
no_secret($out, 'an API key with spaces');

($rc, $out) = nginx_t(location("basic file=$dir"));
isnt($rc, 0, 'a directory: nginx -t fails');
like($out, qr/\[emerg\].*credentials file "\Q$dir\E" is not a regular file/,
     'a directory: the [emerg] names it');

$f = secret_file($dir, 'large.txt', 'alice:' . ('x' x 5000) . "\n");
($rc, $out) = nginx_t(location("basic file=$f"));
isnt($rc, 0, 'a large file: nginx -t fails');
like($out, qr/\[emerg\].*credentials file "\Q$f\E" is too large/,
     'a large file: the [emerg] names it');

# -- a file others can read: [warn], and it still works -----------------

for my $mode (0640, 0604) {
    $f = secret_file($dir, "readable-$mode.txt", "alice:Readable-Secret-1\n", $mode);
    ($rc, $out) = nginx_t(location("basic file=$f"));
    is($rc, 0, sprintf('mode %04o: nginx -t passes', $mode)) or diag($out);
    like($out, qr/\[warn\].*credentials file "\Q$f\E" is readable by group or others/,
         sprintf('mode %04o: a [warn] names the file', $mode));
    no_secret($out, sprintf('mode %04o', $mode));
}

$f = secret_file($dir, 'private.txt', "alice:Readable-Secret-1\n", 0600);
($rc, $out) = nginx_t(location("basic file=$f"));
is($rc, 0, 'mode 0600: nginx -t passes') or diag($out);
unlike($out, qr/\[warn\]/, 'mode 0600: no [warn]');

# -- an environment variable -------------------------------------------

($rc, $out) = nginx_t(location('app env=TFA_TEST_APP_KEY'));
isnt($rc, 0, 'a variable not passed with "env": nginx -t fails');
like($out, qr/\[emerg\].*environment variable "TFA_TEST_APP_KEY" for tfa_resend_credentials is not passed to nginx: add "env TFA_TEST_APP_KEY;"/,
     'a variable not passed with "env": the [emerg] names it and says how');
no_secret($out, 'a variable not passed with "env"');

($rc, $out) = nginx_t(location('basic env=TFA_TEST_UNSET'),
                      main => 'env TFA_TEST_UNSET;');
isnt($rc, 0, 'an unset variable: nginx -t fails');
like($out, qr/\[emerg\].*environment variable "TFA_TEST_UNSET" for tfa_resend_credentials is not set/,
     'an unset variable: the [emerg] names it');

($rc, $out) = nginx_t(location('basic env=TFA_TEST_EMPTY'),
                      main => 'env TFA_TEST_EMPTY=;');
isnt($rc, 0, 'an empty variable: nginx -t fails');
like($out, qr/\[emerg\].*invalid credentials in environment variable "TFA_TEST_EMPTY": credentials are empty/,
     'an empty variable: the [emerg] names it');

($rc, $out) = nginx_t(location('basic env=TFA_TEST_NOCOLON'),
                      main => 'env TFA_TEST_NOCOLON=NoColon-Secret-4242;');
isnt($rc, 0, 'a malformed variable: nginx -t fails');
like($out, qr/\[emerg\].*invalid credentials in environment variable "TFA_TEST_NOCOLON": credentials must be "username:password"/,
     'a malformed variable: the [emerg] names it');
no_secret($out, 'a malformed variable');

($rc, $out) = nginx_t(location('app env=TFA_TEST_APP_KEY'),
                      main => 'env TFA_TEST_APP_KEY;');
is($rc, 0, 'a variable passed with "env": nginx -t passes') or diag($out);
no_secret($out, 'a variable passed with "env", at debug level');

# -- inline, the directive's own errors ---------------------------------

($rc, $out) = nginx_t(location('basic "InlineNoColon-Secret-5"'));
isnt($rc, 0, 'malformed inline credentials: nginx -t fails');
like($out, qr/\[emerg\].*invalid inline tfa_resend_credentials: credentials must be "username:password"/,
     'malformed inline credentials: a clear [emerg]');
no_secret($out, 'malformed inline credentials');

($rc, $out) = nginx_t(location('bearer "carol:Inline-Secret-8"'));
isnt($rc, 0, 'an unknown scheme: nginx -t fails');
like($out, qr/\[emerg\].*invalid tfa_resend_credentials scheme "bearer": expected "basic" or "app"/,
     'an unknown scheme: a clear [emerg]');

($rc, $out) = nginx_t(location('basic file='));
isnt($rc, 0, 'an empty file name: nginx -t fails');
like($out, qr/\[emerg\].*empty file name in tfa_resend_credentials/,
     'an empty file name: a clear [emerg]');

($rc, $out) = nginx_t(location('basic env='));
isnt($rc, 0, 'an empty variable name: nginx -t fails');
like($out, qr/\[emerg\].*empty variable name in tfa_resend_credentials/,
     'an empty variable name: a clear [emerg]');

($rc, $out) = nginx_t(location('app "k1"; tfa_resend_credentials app "k2"'));
isnt($rc, 0, 'the directive twice at one level: nginx -t fails');
like($out, qr/\[emerg\].*"tfa_resend_credentials" directive is duplicate/,
     'the directive twice at one level: a clear [emerg]');

# -- where credentials are required -------------------------------------

($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        location /2fa/ {
            tfa_resend on;
            proxy_pass http://127.0.0.1:1998;
        }
    }
});
isnt($rc, 0, 'tfa_resend on and proxy_pass, no credentials: nginx -t fails');
like($out, qr{\[emerg\].*no credentials for tfa_resend in location "/2fa/"},
     'no credentials: the [emerg] names the location');

($rc, $out) = nginx_t(q{
    tfa_resend on;
    server {
        listen 127.0.0.1:1999;
        location / {
            return 200 "no upstream here";
        }
        location /static/ {
        }
        location /2fa/ {
            tfa_resend off;
            proxy_pass http://127.0.0.1:1998;
        }
    }
});
is($rc, 0, 'no credentials where nothing is passed on, or tfa_resend is off: '
           . 'nginx -t passes') or diag($out);

($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        location /2fa/ {
            tfa_resend on;
            if ($arg_v) {
                proxy_pass http://127.0.0.1:1998;
            }
        }
    }
});
isnt($rc, 0, 'proxy_pass inside "if", no credentials: nginx -t fails');
like($out, qr{\[emerg\].*no credentials for tfa_resend in location "/2fa/"},
     'proxy_pass inside "if": the [emerg] names the location');

# -- tfa_resend_pin_pattern ---------------------------------------------

($rc, $out) = nginx_t(q{
    server {
        listen 127.0.0.1:1999;
        location /2fa/ {
            tfa_resend_pin_pattern "^([0-9A-F]{32}$";
        }
    }
});
isnt($rc, 0, 'an invalid tfa_resend_pin_pattern: nginx -t fails');
like($out, qr/\[emerg\].*invalid tfa_resend_pin_pattern: invalid regex "\^\(\[0-9A-F\]\{32\}\$": missing closing parenthesis/,
     'an invalid tfa_resend_pin_pattern: the [emerg] names it');

($rc, $out) = nginx_t(q{
    tfa_resend_pin_pattern "^[0-9]{6}$";
    tfa_resend_credentials basic "grace:Http-Level-2";
    server {
        listen 127.0.0.1:1999;
        tfa_resend_pin_pattern "^[0-9]{8}$";
        location /2fa/ {
            tfa_resend on;
            tfa_resend_pin_pattern "^[0-9A-F]{32}$";
            proxy_pass http://127.0.0.1:1998;
        }
    }
});
is($rc, 0, 'tfa_resend_pin_pattern and tfa_resend_credentials at every level: '
           . 'nginx -t passes') or diag($out);
no_secret($out, 'credentials at http level, at debug level');


our $http_config = <<'_EOC_';
    # echoes the Authorization header it received (nginx answers 400 to two)
    server {
        listen 127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
        default_type text/plain;

        # the mock logs what it received; keep that out of the gateway's log
        error_log logs/mock-error.log warn;

        location / {
            return 200 "auth=[$http_authorization]\n";
        }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value('http_config', $http_config);
    }

    if (!defined $block->request) {
        $block->set_value('request',
                          "POST /2fa/2/pin/$pin/resend/voice");
    }

    add_no_error_log($block, @secrets);
});


# a resend sent by hand: what the mock upstream saw
sub upstream_auth {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => server_port(),
                                  Proto => 'tcp', Timeout => 2)
        or return '';
    print $s "POST /2fa/2/pin/$pin/resend/voice HTTP/1.0\r\n"
             . "Host: localhost\r\nAuthorization: App client-key\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    close $s;
    return $resp =~ /auth=\[([^\]]*)\]/ ? $1 : '';
}

# writes the rotated file and reloads nginx (SIGHUP), as "nginx -s reload"
sub rotate {
    my ($file, $text, $old, $new) = @_;
    my $auth = '';

    # nginx under valgrind takes seconds to start serving
    for (1 .. 300) {
        $auth = upstream_auth();
        last if $auth ne '';
        select undef, undef, undef, 0.1;
    }

    Test::More::is($auth, $old,
                   'before the reload: the credentials read at start-up');

    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh;

    my $pidfile = server_root() . '/logs/nginx.pid';
    open my $p, '<', $pidfile or die "$pidfile: $!";
    my $pid = <$p>;
    close $p;
    chomp $pid;

    kill 'HUP', $pid or die "cannot send SIGHUP to $pid: $!";

    # up to 20 s: a loaded machine reloads slowly; and until the old
    # worker has stopped taking connections, some still reach it
    my $in_a_row = 0;

    for (1 .. 400) {
        $in_a_row = upstream_auth() eq $new ? $in_a_row + 1 : 0;
        last if $in_a_row == 10;
        select undef, undef, undef, 0.05;
    }
}

# a reload in a single-process nginx does not reach the connections it
# accepts (its listening sockets stay the old cycle's): reload for real
master_on();
workers(1);
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: basic credentials from a file (a trailing newline is fine)
--- user_files
>>> creds.txt
alice:F1le-Secret-9a
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic file=$TEST_NGINX_HTML_DIR/creds.txt;
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
--- response_body eval
"auth=[Basic " . ::b64('alice:F1le-Secret-9a') . "]\n"



=== TEST 2: basic credentials from a file with a CRLF line end, relative to the configuration's directory
--- user_files eval
[[ 'creds-crlf.txt' => "erin:Crlf-Secret-6\r\n" ]]
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic file=../html/creds-crlf.txt;
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- response_body eval
"auth=[Basic " . ::b64('erin:Crlf-Secret-6') . "]\n"



=== TEST 3: an API key from a file: "Authorization: App <key>"
--- user_files
>>> app-key.txt
F1le-App-Key-77c1
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials app file=$TEST_NGINX_HTML_DIR/app-key.txt;
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: App client-key
--- response_body
auth=[App F1le-App-Key-77c1]



=== TEST 4: basic credentials from the environment: "env NAME=value;"
--- main_config
env TFA_TEST_BASIC=bob:Env-Value-3b;
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic env=TFA_TEST_BASIC;
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- response_body eval
"auth=[Basic " . ::b64('bob:Env-Value-3b') . "]\n"



=== TEST 5: an API key from the environment nginx was started with: "env NAME;"
--- main_config
env TFA_TEST_APP_KEY;
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials app env=TFA_TEST_APP_KEY;
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: Basic Y2xpZW50OmNsaWVudC1wYXNz
--- response_body
auth=[App Env-App-Key-5d9e]



=== TEST 6: inline basic credentials
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "carol:Inline-Secret-8";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- response_body eval
"auth=[Basic " . ::b64('carol:Inline-Secret-8') . "]\n"



=== TEST 7: inherited: http level, server level, a location's own
--- http_config eval
"    tfa_resend_credentials basic \"grace:Http-Level-2\";\n" . $::http_config
--- config
    tfa_resend_credentials basic "frank:Server-Level-4";

    location /2fa/2/ {
        tfa_resend on;
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    location /2fa/1/ {
        tfa_resend on;
        tfa_resend_credentials app "F1le-App-Key-77c1";
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
["POST /2fa/2/pin/$::pin/resend/voice", "POST /2fa/1/pin/$::pin/resend/voice"]
--- response_body eval
["auth=[Basic " . ::b64('frank:Server-Level-4') . "]\n",
 "auth=[App F1le-App-Key-77c1]\n"]



=== TEST 8: tfa_resend on and the credentials at the http level: a location that only inherits them sends none, one that says "tfa_resend on" does
--- http_config eval
"    tfa_resend on;\n    tfa_resend_credentials basic \"grace:Http-Level-2\";\n"
. $::http_config
--- config
    location /2fa/1/ {
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }

    location /2fa/2/ {
        tfa_resend on;
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
["POST /2fa/1/pin/$::pin/resend/voice", "POST /2fa/2/pin/$::pin/resend/voice"]
--- response_body eval
["auth=[]\n", "auth=[Basic " . ::b64('grace:Http-Level-2') . "]\n"]



=== TEST 9: a reload reads a rotated file; no secret in the log, before or after
--- user_files
>>> rotating.txt
dave:Old-Rotating-1
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic file=$TEST_NGINX_HTML_DIR/rotating.txt;
        tfa_resend_normalize off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- init
::rotate("$ENV{TEST_NGINX_HTML_DIR}/rotating.txt", "dave:New-Rotating-2\n",
         'Basic ' . ::b64('dave:Old-Rotating-1'),
         'Basic ' . ::b64('dave:New-Rotating-2'));
--- response_body eval
"auth=[Basic " . ::b64('dave:New-Rotating-2') . "]\n"
--- error_log
reconfiguring



=== TEST 10: the secret is in no variable or response: the client's own $http_authorization, a debug line that says "redacted"
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "carol:Inline-Secret-8";
        tfa_resend_normalize off;
        add_header X-Auth "[$http_authorization]" always;
        add_header X-Pin-Id "[$tfa_resend_pin_id]" always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- more_headers
Authorization: App client-key
--- response_headers
X-Auth: [App client-key]
X-Pin-Id: [9C817C6F8AF3D48F9FE553282AFA2B67]
--- response_body eval
"auth=[Basic " . ::b64('carol:Inline-Secret-8') . "]\n"
--- error_log eval
# a debug line; without --with-debug, then, at no other level either
$::nginx_debug ? [$::redacted] : []
--- no_error_log eval
$::nginx_debug ? [] : [$::redacted]



=== TEST 11: refusals say nothing of the credentials
--- config
    location /2fa/ {
        tfa_resend on;
        tfa_resend_credentials basic "carol:Inline-Secret-8";
        proxy_pass http://127.0.0.1:$TEST_NGINX_TFA_MOCK_PORT;
    }
--- request eval
["GET /2fa/2/pin/$::pin/resend/voice",
 "POST /2fa/2/pin/bad/resend/voice",
 "POST /2fa/2/pin/$::pin/resend/voice\n{"]
--- more_headers
Content-Type: application/json
--- error_code eval
[405, 400, 400]
--- response_body_unlike eval
[qr/carol|Inline-Secret|Y2Fyb2w/, qr/carol|Inline-Secret|Y2Fyb2w/,
 qr/carol|Inline-Secret|Y2Fyb2w/]
