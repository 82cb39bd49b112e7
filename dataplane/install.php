<?php
/**
 * MyWP: installs WordPress for one site from the command line. Idempotent: when the site
 * is installed already it only makes the title converge.
 *
 *   MYWP_SITE_CONFIG=/…/sites/<slug>/config.php MYWP_SITE_TITLE=… MYWP_ADMIN_EMAIL=… \
 *     php -d auto_prepend_file=<state>/dataplane-php/prepend.php install.php
 *
 * The admin password is random and thrown away: the owner gets in through a login link
 * (mywp-login.php) and can set a password from wp-admin. Prints MYWP-INSTALL-OK on success.
 */
if (PHP_SAPI !== 'cli') {
    exit(1);
}
if (!defined('ABSPATH')) {
    fwrite(STDERR, "ABSPATH is not defined: run with -d auto_prepend_file=…/prepend.php\n");
    exit(2);
}
$title = getenv('MYWP_SITE_TITLE');
$email = getenv('MYWP_ADMIN_EMAIL');
if (!is_string($title) || $title === '' || !is_string($email) || $email === '') {
    fwrite(STDERR, "MYWP_SITE_TITLE and MYWP_ADMIN_EMAIL are required\n");
    exit(2);
}
$home = getenv('MYWP_SITE_HOST') ?: 'localhost';
$_SERVER['HTTP_HOST'] = $home;
$_SERVER['SERVER_NAME'] = preg_replace('/:.*/', '', $home);
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';

define('WP_INSTALLING', true);

/** No "your new site" mail: there is no MTA here and the panel tells the owner. */
function wp_new_blog_notification($blog_title, $blog_url, $user_id, $password)
{
}

require ABSPATH . 'wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';

if (is_blog_installed()) {
    if (get_option('blogname') !== $title) {
        update_option('blogname', $title);
    }
    echo "MYWP-INSTALL-OK already installed\n";
    exit(0);
}

$login = sanitize_user(strtolower(strstr($email, '@', true) ?: 'admin'), true);
if ($login === '' || username_exists($login)) {
    $login = 'admin';
}
$result = wp_install($title, $login, $email, false, '', wp_generate_password(40, true, true));
if (empty($result['user_id'])) {
    fwrite(STDERR, "wp_install did not create the admin user\n");
    exit(3);
}
update_option('permalink_structure', '/%postname%/');
echo "MYWP-INSTALL-OK installed\n";
exit(0);
