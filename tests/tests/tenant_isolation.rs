//! A hostile tenant on a single host: its PHP (a plugin it uploads through wp-admin) tries
//! to reach another customer's site and the panel's state; it plants symlinks for nginx to
//! follow; and it swaps its wp-content's directories for symlinks to /etc while the files
//! step runs as root. Every attempt is refused, and WordPress still works for it. The
//! plugin is tests/fixtures/hostile-plugin, uploaded as a zip through wp-admin's form.
//! (Snapshots and restores under the same attacks: tests/snapshot_attacks.rs.)

use std::{
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use mywp_jobs::{
    domain::{SiteSlug, StepError},
    drivers::{
        local::{LocalConfig, SiteDatabase, SITE_MARKER},
        Ensured,
    },
    store::Store,
};
use mywp_tests::{
    mywp_bin,
    tenant::{
        as_user, config, drivers, new_site, one_at_a_time, provision, remove, sign_in, site_page,
        write_as, Site,
    },
    unique,
    wp_admin::{self, WpAdmin},
    TestApp,
};

/// A panel's control-plane database as `mywp` makes it in the state directory (umask 077),
/// held open in WAL mode, as a running panel holds it.
async fn panel_database(cfg: &LocalConfig) -> (PathBuf, Store) {
    let path = cfg.state_dir.join(format!("{}.db", unique("panel")));
    let url = format!("sqlite://{}", path.display());
    let out = Command::new(mywp_bin())
        .arg("migrate")
        .env("MYWP_STATE_DIR", &cfg.state_dir)
        .env("DATABASE_URL", &url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mywp migrate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Store::open(&url).await.unwrap();
    sqlx::query("CREATE TABLE IF NOT EXISTS probe (x INTEGER)")
        .execute(store.pool())
        .await
        .unwrap();
    (path, store)
}

/// Runs one probe of the hostile plugin as `site`'s PHP: its JSON answer.
async fn hostile(site: &Site, probe: &str, params: &[(&str, &str)]) -> serde_json::Value {
    let mut query = vec![("mywp-hostile", probe)];
    query.extend_from_slice(params);
    let home = config().addressing.site_url(site.slug());
    let url = reqwest::Url::parse_with_params(&format!("{home}/"), &query).unwrap();
    let (status, body) =
        wp_admin::get(&wp_admin::client(site.slug()), site.slug(), url.as_str()).await;
    serde_json::from_str(&body)
        .unwrap_or_else(|_| panic!("not a probe's answer (HTTP {status}): {body:.500}"))
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_plugin_reaches_nothing_but_its_own_site() {
    let _one = one_at_a_time().await;
    let cfg = config();
    let drivers = drivers(&cfg);
    let a = new_site(&cfg, "ta");
    let b = new_site(&cfg, "tb");
    provision(&drivers, &a).await;
    provision(&drivers, &b).await;
    assert_ne!(a.user, b.user);

    // B's private things, made as B would make them.
    let b_secret = b.content().join("uploads/secret.txt");
    write_as(b.user, &b_secret, "b's private upload");
    let (panel_db, store) = panel_database(&cfg).await;
    let wal = PathBuf::from(format!("{}-wal", panel_db.display()));
    assert!(wal.exists(), "the panel's WAL is there while it runs");
    let snapshots = cfg.state_dir.join("snapshots");
    std::fs::create_dir_all(&snapshots).unwrap();
    let master_key = cfg.state_dir.join("master.key");

    let forbidden_reads = [
        b.config(),
        b_secret.clone(),
        panel_db.clone(),
        wal.clone(),
        master_key.clone(),
        cfg.state_dir.join("mariadb/admin.password"),
    ];
    let forbidden_lists = [
        b.content().join("uploads"),
        b.dir.clone(),
        cfg.state_dir.clone(),
        snapshots.clone(),
        cfg.sites_dir.clone(),
    ];
    let b_mu = b.content().join("mu-plugins/planted.php");
    let own_file = a.content().join("uploads/probe-wrote.txt");
    let path = |p: &PathBuf| p.display().to_string();

    // A uploads its plugin through wp-admin, as a customer does, and it runs as A.
    let admin = sign_in(&cfg, &a).await;
    admin.install_hostile_plugin().await;
    let plugin = a.content().join("plugins/mywp-hostile/mywp-hostile.php");
    assert_eq!(
        std::fs::metadata(&plugin).unwrap().uid(),
        a.user.uid,
        "installed as A's user"
    );
    let me = hostile(&a, "whoami", &[]).await;
    assert_eq!(me["euid"], a.user.uid, "{me}");
    assert_eq!(
        me["groups"],
        serde_json::json!([a.user.gid]),
        "no other group: {me}"
    );
    let basedir = me["open_basedir"].as_str().unwrap();
    assert!(basedir.contains(&format!("{}/", a.dir.display())), "{me}");

    // Its own site: yes (the probes work). Anything else: no.
    let ok = |answer: &serde_json::Value| answer["ok"] == true;
    let own = hostile(&a, "read", &[("path", &path(&a.config()))]).await;
    assert!(ok(&own), "{own}");
    let own = hostile(&a, "list", &[("path", &path(&a.content().join("uploads")))]).await;
    assert!(ok(&own), "{own}");
    let own = hostile(&a, "write", &[("path", &path(&own_file)), ("data", "mine")]).await;
    assert!(ok(&own), "{own}");
    for p in &forbidden_reads {
        let answer = hostile(&a, "read", &[("path", &path(p))]).await;
        assert!(!ok(&answer), "read {}: {answer}", p.display());
    }
    for p in &forbidden_lists {
        let answer = hostile(&a, "list", &[("path", &path(p))]).await;
        assert!(!ok(&answer), "list {}: {answer}", p.display());
    }
    let answer = hostile(
        &a,
        "write",
        &[("path", &path(&b_mu)), ("data", "<?php echo 1;")],
    )
    .await;
    assert!(
        !ok(&answer) && !b_mu.exists(),
        "wrote B's mu-plugins: {answer}"
    );

    // MariaDB: A's own login reaches its own database and not B's; B's user, root and the
    // administrator do not log in from A's PHP (B's password is derived from a key A cannot
    // read).
    let a_db = SiteDatabase::of(&a.spec, &cfg.db_namespace, &cfg.master_key).unwrap();
    let b_db = SiteDatabase::of(&b.spec, &cfg.db_namespace, &cfg.master_key).unwrap();
    let own = hostile(
        &a,
        "mysql",
        &[(
            "sql",
            &format!("SELECT COUNT(*) FROM `{}`.wp_options", a_db.name),
        )],
    )
    .await;
    assert!(ok(&own), "{own}");
    let sql = format!(
        "SELECT option_value FROM `{}`.wp_options LIMIT 1",
        b_db.name
    );
    let answer = hostile(&a, "mysql", &[("sql", &sql)]).await;
    assert!(
        !ok(&answer),
        "A's database user read B's database: {answer}"
    );
    // (The single host's MariaDB lets root and mysql in by their Unix user alone.)
    for user in [b_db.name.as_str(), "root", "mysql"] {
        for password in ["", "wordpress", a_db.password.expose()] {
            let answer = hostile(
                &a,
                "mysql",
                &[("user", user), ("password", password), ("sql", "SELECT 1")],
            )
            .await;
            assert!(
                !ok(&answer),
                "A's PHP logged in to MariaDB as {user}: {answer}"
            );
        }
    }

    // Unix permissions hold without open_basedir: A's uid, in a plain shell.
    for p in &forbidden_reads {
        let out = as_user(a.user, "cat \"$1\" >/dev/null", &[&path(p)]);
        assert!(!out.status.success(), "A's uid read {}", p.display());
    }
    for p in &forbidden_lists {
        let out = as_user(a.user, "ls \"$1\" >/dev/null", &[&path(p)]);
        assert!(!out.status.success(), "A's uid listed {}", p.display());
    }
    let out = as_user(a.user, "echo x > \"$1\"", &[&path(&b_mu)]);
    assert!(
        !out.status.success() && !b_mu.exists(),
        "A's uid wrote B's mu-plugins"
    );
    // The modes that make it so.
    assert_eq!(mode(&b.config()), 0o400);
    assert_eq!(std::fs::metadata(b.config()).unwrap().uid(), b.user.uid);
    assert_eq!(mode(&b.content()), 0o2750);
    assert_eq!(mode(&b.dir), 0o711);
    for p in [&panel_db, &wal, &master_key] {
        assert_eq!(mode(p) & 0o077, 0, "{} is private", p.display());
    }
    assert_eq!(
        mode(&cfg.state_dir) & 0o007,
        0o001,
        "var/: pass through, no listing"
    );

    // B is unharmed.
    let (status, body) = site_page(&b, "/").await;
    assert!(
        status == 200 && body.contains(&b.spec.title),
        "B answers: {status}"
    );

    store.pool().close().await;
    for p in [
        panel_db.clone(),
        wal,
        PathBuf::from(format!("{}-shm", panel_db.display())),
    ] {
        let _ = std::fs::remove_file(p);
    }
    remove(&drivers, &a).await;
    remove(&drivers, &b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_never_follows_a_link_the_tenant_planted() {
    let _one = one_at_a_time().await;
    let cfg = config();
    let drivers = drivers(&cfg);
    let a = new_site(&cfg, "na");
    let b = new_site(&cfg, "nb");
    provision(&drivers, &a).await;
    provision(&drivers, &b).await;
    let b_secret = b.content().join("uploads/secret.txt");
    write_as(b.user, &b_secret, "b's private upload");
    let (panel_db, store) = panel_database(&cfg).await;
    let uploads = a.content().join("uploads");
    write_as(a.user, &uploads.join("own.txt"), "a's own file");
    let links = [
        ("leak-config.txt", b.config()),
        ("leak-upload.txt", b_secret.clone()),
        ("leak-db.txt", panel_db.clone()),
        ("leak-key.txt", cfg.state_dir.join("master.key")),
        ("leak-dir", b.content().join("uploads")),
    ];
    for (name, target) in &links {
        let out = as_user(
            a.user,
            "ln -s \"$1\" \"$2\"",
            &[
                &target.display().to_string(),
                &uploads.join(name).display().to_string(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (status, body) = site_page(&a, "/wp-content/uploads/own.txt").await;
    assert_eq!((status, body.as_str()), (200, "a's own file"));
    // Root's own link, to the shared default theme, is followed.
    let (status, _) = site_page(&a, "/wp-content/themes/twentytwentythree/style.css").await;
    assert_eq!(status, 200, "the default theme's stylesheet");
    for path in [
        "leak-config.txt",
        "leak-upload.txt",
        "leak-db.txt",
        "leak-key.txt",
        "leak-dir/secret.txt",
    ] {
        let (status, body) = site_page(&a, &format!("/wp-content/uploads/{path}")).await;
        assert!(status == 403 || status == 404, "{path}: HTTP {status}");
        assert!(
            !body.contains("DB_PASSWORD") && !body.contains("b's private"),
            "{path}: {body}"
        );
    }
    store.pool().close().await;
    let _ = std::fs::remove_file(&panel_db);
    remove(&drivers, &a).await;
    remove(&drivers, &b).await;
}

/// The owner and mode of `path` (not following it).
fn stat(path: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid(), m.mode())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_never_follows_the_tenants_links_while_it_races() {
    let _one = one_at_a_time().await;
    let cfg = config();
    let drivers = drivers(&cfg);
    let files = drivers.files.clone().unwrap();
    let a = new_site(&cfg, "ra");
    provision(&drivers, &a).await;
    // A stand-in for /etc that a mistake would show on, and /etc itself.
    let scratch = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scratch.path(), PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(scratch.path().join("passwd"), "root:x:0:0").unwrap();
    let watched = [
        scratch.path().to_path_buf(),
        scratch.path().join("passwd"),
        PathBuf::from("/etc"),
        PathBuf::from("/etc/passwd"),
    ];
    let before: Vec<_> = watched.iter().map(|p| stat(p)).collect();

    // A's PHP, swapping every directory of its wp-content for symlinks, as fast as it can.
    let swapper = format!(
        r#"$t = array('{etc}', '{scratch}'); $i = 0;
        while (true) {{
            foreach (array('uploads', 'plugins', 'themes', 'mu-plugins', 'upgrade') as $n) {{
                $i++;
                @rename($n, ".swapped-$n-$i");
                @symlink($t[$i % 2], $n);
            }}
        }}"#,
        etc = "/etc",
        scratch = scratch.path().display()
    );
    let mut child = {
        use std::os::unix::process::CommandExt;
        Command::new(&cfg.php_bin)
            .arg("-n")
            .arg("-r")
            .arg(&swapper)
            .current_dir(a.content())
            .uid(a.user.uid)
            .gid(a.user.gid)
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut refused = 0;
    for _ in 0..150 {
        match files.ensure(&a.spec).await {
            Ok(_) => {}
            // Losing the race may be refused; following a link may not happen.
            Err(_) => refused += 1,
        }
        let now: Vec<_> = watched.iter().map(|p| stat(p)).collect();
        assert_eq!(
            now, before,
            "the targets of the tenant's links were changed"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    eprintln!("{refused} of 150 runs were refused while the tenant raced");

    // Without the race, the layout comes back whole.
    assert!(matches!(
        files.ensure(&a.spec).await,
        Ok(Ensured::Done { .. })
    ));
    for sub in ["uploads", "plugins", "themes", "mu-plugins", "upgrade"] {
        let m = std::fs::symlink_metadata(a.content().join(sub)).unwrap();
        assert!(m.is_dir(), "{sub}");
        assert_eq!((m.uid(), m.mode() & 0o7777), (a.user.uid, 0o2750), "{sub}");
    }
    let now: Vec<_> = watched.iter().map(|p| stat(p)).collect();
    assert_eq!(now, before);
    remove(&drivers, &a).await;
    assert!(
        scratch.path().join("passwd").exists(),
        "removing the site deletes nothing outside"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_of_the_earlier_layout_moves_to_its_own_user_and_keeps_serving() {
    let _one = one_at_a_time().await;
    let cfg = config();
    let drivers = drivers(&cfg);
    let c = new_site(&cfg, "mig");
    provision(&drivers, &c).await;
    // As the earlier code left a site: everything of wp-content the web user's, the config
    // root:www-data 0640, no marker, no pool of its own; a link planted by the tenant.
    let web = nix::unistd::User::from_name(&cfg.web_user)
        .unwrap()
        .unwrap();
    let (wuid, wgid) = (web.uid.as_raw(), web.gid.as_raw());
    let upload = c.content().join("uploads/2024/01/photo.txt");
    std::fs::create_dir_all(upload.parent().unwrap()).unwrap();
    std::fs::write(&upload, "an old upload").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let outside_before = stat(outside.path());
    std::os::unix::fs::symlink(outside.path(), c.content().join("uploads/planted")).unwrap();
    let out = Command::new("chown")
        .args(["-R", "-h", &format!("{wuid}:{wgid}")])
        .arg(c.content())
        .status()
        .unwrap();
    assert!(out.success());
    std::os::unix::fs::chown(c.config(), Some(0), Some(wgid)).unwrap();
    std::fs::set_permissions(c.config(), PermissionsExt::from_mode(0o640)).unwrap();
    std::fs::set_permissions(&c.dir, PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::remove_file(c.dir.join(SITE_MARKER)).unwrap();
    let pools = cfg.fpm.as_ref().expect("per-site pools on a single host");
    std::fs::remove_file(pools.pools_dir.join(format!("{}.conf", c.slug()))).unwrap();

    provision(&drivers, &c).await;
    assert_eq!(
        stat(&upload).0,
        c.user.uid,
        "the old upload is the site's user's"
    );
    assert_eq!(stat(&c.content()).0, c.user.uid);
    assert_eq!(
        stat(&c.content().join("uploads/planted")).0,
        c.user.uid,
        "the link itself"
    );
    assert_eq!(
        stat(outside.path()),
        outside_before,
        "not what it points to"
    );
    assert_eq!(
        (stat(&c.config()).0, mode(&c.config())),
        (c.user.uid, 0o400)
    );
    assert_eq!(mode(&c.dir), 0o711);
    assert!(c.dir.join(SITE_MARKER).exists());
    let (status, body) = site_page(&c, "/wp-content/uploads/2024/01/photo.txt").await;
    assert_eq!((status, body.as_str()), (200, "an old upload"));
    let (status, body) = site_page(&c, "/").await;
    assert!(
        status == 200 && body.contains(&c.spec.title),
        "HTTP {status}"
    );
    remove(&drivers, &c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_or_pool_of_another_site_is_not_taken_over() {
    let _one = one_at_a_time().await;
    let cfg = config();
    let drivers = drivers(&cfg);
    let a = new_site(&cfg, "own");
    provision(&drivers, &a).await;
    // Another site (another id) under the same slug: refused, with a reason.
    let mut other = a.spec.clone();
    other.id += 1;
    let files = drivers.files.clone().unwrap();
    match files.ensure(&other).await {
        Err(StepError::Permanent(reason)) => assert!(reason.contains("another site"), "{reason}"),
        got => panic!("expected a refusal, got {got:?}"),
    }
    // Nor does removing it delete the first site's files.
    files.remove(&other).await.unwrap();
    assert!(a.config().exists());
    let (status, _) = site_page(&a, "/").await;
    assert_eq!(status, 200);
    remove(&drivers, &a).await;
}

/// The customer's way in: the panel's wp-admin button, then WordPress's own upload form. The
/// plugin runs as the site's user (the owner of its wp-content, not root, not nginx's user),
/// and the site keeps serving its pages with it active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_uploaded_through_the_panels_wp_admin_runs_as_its_site() {
    let _one = one_at_a_time().await;
    let app = TestApp::spawn().await;
    let ann = app.new_customer().await;
    let slug = unique("plug");
    let title = format!("Site {slug}");
    ann.create_site(&title, &slug).await;
    ann.wait_status(&slug, "live", Duration::from_secs(180))
        .await;
    WpAdmin::open(&ann, &slug)
        .await
        .install_hostile_plugin()
        .await;
    let cfg = config();
    let content = cfg
        .site_dir(&SiteSlug::from_stored(&slug).unwrap())
        .join("wp-content");
    let owner = std::fs::metadata(&content).unwrap().uid();
    let home = cfg.addressing.site_url(&slug);
    let (_, me) = wp_admin::get(
        &wp_admin::client(&slug),
        &slug,
        &format!("{home}/?mywp-hostile=whoami"),
    )
    .await;
    let me: serde_json::Value = serde_json::from_str(&me).unwrap();
    assert_eq!(
        me["euid"], owner,
        "PHP runs as the owner of its wp-content: {me}"
    );
    let web_uid = nix::unistd::User::from_name(&cfg.web_user)
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    assert!(owner != 0 && owner != web_uid, "{owner}");
    mywp_tests::dataplane::wait_for_title(&slug, &title).await;
    app.stop().await;
}
