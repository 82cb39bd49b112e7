<?php
/**
 * MyWP: the shared core's wp-config.php (copied into <state>/wordpress-core/, next to the
 * symlinks into Debian's core). It loads the per-site config whose path nginx passes as the
 * FastCGI parameter MYWP_SITE_CONFIG (or, for the CLI, the environment variable).
 * Debian's own /usr/share/wordpress/wp-config.php and /etc/wordpress are never used.
 */
$mywp_site_config = $_SERVER['MYWP_SITE_CONFIG'] ?? getenv('MYWP_SITE_CONFIG');
if (!is_string($mywp_site_config) || $mywp_site_config === '' || !is_file($mywp_site_config)) {
    if (PHP_SAPI !== 'cli') {
        header('HTTP/1.1 404 Not Found');
        header('Content-Type: text/plain; charset=utf-8');
    }
    echo "No site is configured here.\n";
    exit(1);
}
require $mywp_site_config;
unset($mywp_site_config);

if (!defined('ABSPATH')) {
    define('ABSPATH', __DIR__ . '/');
}
require_once ABSPATH . 'wp-settings.php';
