<?php
/**
 * Plugin Name: MyWP login links
 * Description: One-time login links from the MyWP panel: /?mywp-login=<expires>.<signature>
 *
 * signature = hex(hmac-sha256(MYWP_LOGIN_KEY, lowercase(user_email) . "|" . expires)).
 * MYWP_LOGIN_KEY is derived per site by the panel and written into the site's config. A link
 * works once, until it expires; the administrator whose email signs it is logged in.
 * Installed as a symlink in each site's wp-content/mu-plugins (never copied).
 */
defined('ABSPATH') || exit;

const MYWP_LOGIN_MAX_VALIDITY = 86400;

add_action('init', 'mywp_login_handle', 1);

function mywp_login_handle()
{
    if (!isset($_GET['mywp-login']) || !defined('MYWP_LOGIN_KEY') || MYWP_LOGIN_KEY === '') {
        return;
    }
    nocache_headers();
    $token = (string) wp_unslash($_GET['mywp-login']);
    if (!preg_match('/^([0-9]{1,12})\.([0-9a-f]{64})$/', $token, $m)) {
        mywp_login_refuse('This login link is malformed.');
    }
    $expires = (int) $m[1];
    $now = time();
    if ($expires < $now) {
        mywp_login_refuse('This login link has expired. Ask the panel for a new one.');
    }
    if ($expires > $now + MYWP_LOGIN_MAX_VALIDITY) {
        mywp_login_refuse('This login link is not valid.');
    }
    $user = null;
    foreach (get_users(array('role' => 'administrator', 'number' => 50)) as $candidate) {
        $expected = hash_hmac('sha256', strtolower($candidate->user_email) . '|' . $expires, MYWP_LOGIN_KEY);
        if (hash_equals($expected, $m[2])) {
            $user = $candidate;
            break;
        }
    }
    if ($user === null) {
        mywp_login_refuse('This login link is not valid.');
    }
    // One use only: INSERT IGNORE is atomic, so two concurrent uses cannot both pass.
    global $wpdb;
    $name = 'mywp_login_' . substr(hash('sha256', $token), 0, 32);
    $inserted = $wpdb->query($wpdb->prepare(
        "INSERT IGNORE INTO {$wpdb->options} (option_name, option_value, autoload) VALUES (%s, %s, 'no')",
        '_transient_' . $name,
        '1'
    ));
    if ($inserted !== 1) {
        mywp_login_refuse('This login link has been used already. Ask the panel for a new one.');
    }
    $wpdb->query($wpdb->prepare(
        "INSERT INTO {$wpdb->options} (option_name, option_value, autoload) VALUES (%s, %s, 'no')
         ON DUPLICATE KEY UPDATE option_value = VALUES(option_value)",
        '_transient_timeout_' . $name,
        (string) ($expires + 60)
    ));
    wp_clear_auth_cookie();
    wp_set_current_user($user->ID);
    wp_set_auth_cookie($user->ID, false);
    do_action('wp_login', $user->user_login, $user);
    wp_safe_redirect(admin_url());
    exit;
}

function mywp_login_refuse($message)
{
    wp_die(esc_html($message), 'Login link', array('response' => 403));
}
