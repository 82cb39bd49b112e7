<?php
/**
 * MyWP: prepended to every PHP request of the data plane's php-fpm pool (and to the CLI
 * install script). Installed into <state>/dataplane-php/ by `scripts/dataplane.sh start`.
 *
 * The shared core <state>/wordpress-core/ is a directory of symlinks into Debian's
 * /usr/share/wordpress. PHP resolves symlinks in __FILE__/__DIR__, so wp-load.php would set
 * ABSPATH to /usr/share/wordpress/ and load Debian's wp-config.php (which reads
 * /etc/wordpress). wp-load.php only defines ABSPATH when it is not defined yet, so defining it
 * here, as the symlink directory, makes WordPress load our wp-config.php shim instead.
 */
if (!defined('ABSPATH')
    && (isset($_SERVER['MYWP_SITE_CONFIG']) || getenv('MYWP_SITE_CONFIG') !== false)) {
    define('ABSPATH', dirname(__DIR__) . '/wordpress-core/');
}

/*
 * A restore in progress: MyWP writes <site dir>/maintenance while it loads a snapshot's
 * database and swaps its files in, so that visitors get a short 503 rather than a database
 * and files that do not belong together yet. One stat() per request.
 */
$mywp_site_config = $_SERVER['MYWP_SITE_CONFIG'] ?? null;
if (PHP_SAPI !== 'cli' && is_string($mywp_site_config)
    && is_file(dirname($mywp_site_config) . '/maintenance')) {
    http_response_code(503);
    header('Retry-After: 30');
    header('Cache-Control: no-store');
    header('Content-Type: text/html; charset=utf-8');
    echo "<!doctype html>\n<title>Back in a moment</title>\n"
        . "<p>This site is being restored from a backup. It will be back in a moment.</p>\n";
    exit;
}
unset($mywp_site_config);
