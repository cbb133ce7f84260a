# Self-test of the bundled Test::Nginx runner: blocks that must FAIL.
# Each case runs a tiny .t file through `prove` in a temp dir and checks
# that exactly the expected subtests fail (and the rest pass).
# Run: prove -I t/lib -r t/runner

use strict;
use warnings;

use Test::More;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);

my $lib = abs_path(dirname(__FILE__) . '/../lib');
my $dir = tempdir('tnr-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/t" or die "mkdir $dir/t: $!";     # servroot goes in t/

# keep clear of the port used by the other runner tests
$ENV{TEST_NGINX_PORT} = 1990;
delete $ENV{$_} for qw(TEST_NGINX_SERVER_PORT TEST_NGINX_CLIENT_PORT
                       TEST_NGINX_SERVROOT TEST_NGINX_NO_CLEAN);

my $head = <<'_EOC_';
use Test::Nginx::Socket 'no_plan';
no_shuffle();
run_tests();
__DATA__

=== TEST 1: case
_EOC_

my $default_config = <<'_EOC_';
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "hello\n";
    }
    location = /e {
        return 200 "$arg_x\n";
    }
_EOC_

# run one test file through prove; returns (exit status, output)
sub run_case {
    my ($name, $body) = @_;

    my $file = "$dir/$name.t";
    open my $out, '>', $file or die "$file: $!";
    $body = $default_config . $body unless $body =~ /^--- config/m;
    print $out $head, $body;
    close $out;

    my $output = `cd $dir && prove -v -I $lib $name.t 2>&1`;
    return ($? >> 8, $output);
}

# $cases{name} = [block tail, [regexes of the subtests that must fail]]
my %cases = (
    response_body => [<<'_EOC_', [qr/- response_body - response is expected/]],
--- request
GET /t
--- response_body
goodbye
_EOC_

    error_code => [<<'_EOC_', [qr/- status code ok$/]],
--- request
GET /t
--- error_code: 404
--- response_body
hello
_EOC_

    error_log_missing => [<<'_EOC_',
--- request
GET /t
--- response_body
hello
--- error_log
this line never appears in the log
_EOC_
        [qr/pattern "this line never appears in the log" should match a line in error\.log/]],

    no_error_log_present => [<<'_EOC_',
--- request
GET /nowhere.html
--- error_code: 404
--- response_body_like: 404 Not Found
--- no_error_log
[error]
_EOC_
        [qr/pattern "\[error\]" should not match any line in error\.log but matches line .*nowhere\.html/]],

    response_header_value => [<<'_EOC_', [qr/- header X-Foo ok$/]],
--- request
GET /t
--- response_headers
X-Foo: baz
--- response_body
hello
_EOC_

    response_header_absent => [<<'_EOC_',
--- request
GET /t
--- response_headers
!X-Foo
--- response_body
hello
_EOC_
        [qr/- header X-Foo not present in the raw headers$/]],

    response_headers_like => [<<'_EOC_', [qr/- header X-Foo like ok$/]],
--- request
GET /t
--- response_headers_like
X-Foo: ba
--- response_body
hello
_EOC_

    response_body_like => [<<'_EOC_', [qr/- response_body_like - /]],
--- request
GET /t
--- response_body_like: ^goodbye
_EOC_

    pipelined_second => [<<'_EOC_',
--- pipelined_requests eval
["GET /e?x=1", "GET /e?x=2"]
--- response_body eval
["1\n", "3\n"]
_EOC_
        [qr/- response_body - response is expected \(repeated req 0, req 1\)/]],

    timeout => [<<'_EOC_',
--- request
GET /t
--- tcp_listen: 1991
--- tcp_reply eval
""
--- tcp_no_close
--- config
    location = /t {
        proxy_pass http://127.0.0.1:1991;
    }
--- timeout: 300ms
--- ignore_response
_EOC_
        [qr/ERROR: client socket timed out/]],

    tcp_query => [<<'_EOC_', [qr/- tcp_query ok$/]],
--- config
    location = /t {
        proxy_pass http://127.0.0.1:1991;
    }
--- request
GET /t
--- tcp_listen: 1991
--- tcp_query: NOT WHAT NGINX SENDS
--- tcp_reply eval
"HTTP/1.0 200 OK\r\n\r\nup"
--- response_body chomp
up
_EOC_

    must_die => [<<'_EOC_', [qr/- die as expected$/]],
--- request
GET /t
--- must_die
_EOC_
);

for my $name (sort keys %cases) {
    my ($tail, $must_fail) = @{ $cases{$name} };

    my ($rc, $out) = run_case($name, $tail);

    my @not_ok = $out =~ /^not ok \d+ - (.*)$/mg;
    my @ok = grep { !/^\d+ # skip/ } $out =~ /^ok \d+ (.*)$/mg;

    isnt($rc, 0, "$name: prove reports failure");

    for my $re (@$must_fail) {
        ok((grep { $_ =~ $re } @not_ok), "$name: fails $re")
            or diag($out);
    }

    my @unexpected = grep { my $l = $_; !grep { $l =~ $_ } @$must_fail }
                     @not_ok;
    is_deeply(\@unexpected, [], "$name: no other subtest fails")
        or diag($out);
}

# the same harness reports success for a passing file, and the error
# log checks only see the lines of the current block and repetition
{
    my $file = "$dir/control.t";
    open my $out, '>', $file or die "$file: $!";
    print $out <<'_EOC_';
use Test::Nginx::Socket;
repeat_each(2);
plan tests => repeat_each() * 3 * blocks();
no_shuffle();
run_tests();
__DATA__

=== TEST 1: each repetition sees only its own log lines
--- config
    location = /t { return 200 "$arg_m\n"; }
--- request
GET /t?m=marker-one
--- response_body
marker-one
--- grep_error_log eval
qr/finalize request: \d+, "\/t\?m=marker-\w+"/
--- grep_error_log_out
finalize request: 0, "/t?m=marker-one"



=== TEST 2: the next block does not see the previous block's lines
--- config
    location = /t { return 200 "$arg_m\n"; }
--- request
GET /t?m=other
--- response_body
other
--- no_error_log
marker-one
_EOC_
    close $out;

    my $output = `cd $dir && prove -I $lib control.t 2>&1`;
    is($? >> 8, 0, 'control: prove passes') or diag($output);
    like($output, qr/^All tests successful\./m, 'control: summary');

    $output = `cd $dir && TEST_NGINX_USE_HUP=1 prove -I $lib control.t 2>&1`;
    is($? >> 8, 0, 'control: passes with TEST_NGINX_USE_HUP=1')
        or diag($output);
}

# upstream exports no variables to the test file: one that names
# $ServerPort outside --- init does not even compile there, nor here
{
    my $file = "$dir/vars.t";
    open my $out, '>', $file or die "$file: $!";
    print $out <<'_EOC_';
use Test::Nginx::Socket 'no_plan';
Test::More::diag("port $ServerPort");
run_tests();
__DATA__

=== TEST 1: never run
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
_EOC_
    close $out;

    my $output = `cd $dir && prove -I $lib vars.t 2>&1`;
    isnt($? >> 8, 0, 'vars: a file naming $ServerPort fails');
    like($output, qr/Global symbol "\$ServerPort" requires explicit package/,
         'vars: $ServerPort is not exported') or diag($output);
}

done_testing();
