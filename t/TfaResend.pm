package TfaResend;

# Helpers shared by the t/*.t files that Test::Nginx has no section for.
#
# Configuration errors: nginx reports an [emerg] met while parsing its
# configuration on its startup log, which for Debian's nginx is stderr
# (--error-log-path=stderr), not the test's logs/error.log; so Test::Nginx's
# error_log section cannot see it under either runner.  nginx_t() runs
# `nginx -t` on a configuration built like Test::Nginx builds one and
# returns what nginx printed.

use strict;
use warnings;

use File::Temp qw(tempdir);
use Exporter 'import';

our @EXPORT = qw(nginx_t);


sub nginx_t {
    my ($http, %opt) = @_;

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $dir = tempdir(CLEANUP => 1);

    mkdir "$dir/logs";
    mkdir "$dir/conf";

    my $conf = '';

    for my $m (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '') {
        $conf .= "load_module $m;\n";
    }

    $conf .= "error_log logs/error.log debug;\n"
             . "pid logs/nginx.pid;\n"
             . ($opt{main} // '')
             . "\nevents { worker_connections 64; }\n"
             . "http {\n"
             . "    client_body_temp_path $dir/cbt;\n"
             . "    proxy_temp_path $dir/pt;\n"
             . "    fastcgi_temp_path $dir/ft;\n"
             . "    uwsgi_temp_path $dir/ut;\n"
             . "    scgi_temp_path $dir/st;\n"
             . "$http\n}\n";

    open my $fh, '>', "$dir/conf/nginx.conf" or die "nginx.conf: $!";
    print $fh $conf;
    close $fh;

    my $out = `$nginx -t -p $dir/ -c conf/nginx.conf 2>&1`;
    my $rc = $? >> 8;

    if (-s "$dir/logs/error.log") {
        open my $log, '<', "$dir/logs/error.log" or die "error.log: $!";
        local $/;
        $out .= <$log>;
        close $log;
    }

    return wantarray ? ($rc, $out) : $out;
}


1;
