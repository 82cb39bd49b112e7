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
