//! Each site's own Unix identity: its PHP (pool and CLI) runs as it, it owns the site's
//! wp-content and config. Numeric only: uid = gid = a base + the site's id, the same on
//! every host, with no /etc/passwd entry.
//!
//! Where the sites share the web user's php-fpm pool (the AWS shape's web nodes, until
//! their agent writes per-site pools), the "site user" is that web user, as before.

use super::LocalConfig;
use crate::{
    drivers::{SiteSpec, StepError},
    fsutil::Owner,
};

/// A site's uid and gid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteUser {
    pub uid: u32,
    pub gid: u32,
}

impl SiteUser {
    /// The user `site` runs as under `cfg`.
    pub fn of(cfg: &LocalConfig, site: &SiteSpec) -> Result<SiteUser, StepError> {
        if cfg.fpm.is_none() {
            let web = Owner::of_user(&cfg.web_user)?;
            return Ok(SiteUser {
                uid: web.uid,
                gid: web.gid,
            });
        }
        Self::own(cfg.site_uid_base, site.id)
    }

    /// The site's own ids: `base + id`, refused when out of range (uid 2³²−1 means "none").
    pub fn own(base: u32, site_id: i64) -> Result<SiteUser, StepError> {
        let id = u32::try_from(site_id)
            .ok()
            .filter(|&id| id > 0)
            .and_then(|id| base.checked_add(id))
            .filter(|&uid| uid < u32::MAX - 1)
            .ok_or_else(|| {
                StepError::permanent(format!(
                    "site id {site_id} gives no valid Unix user above {base}"
                ))
            })?;
        Ok(SiteUser { uid: id, gid: id })
    }

    /// Owned by the site's user and group.
    pub fn owner(self) -> Owner {
        Owner {
            uid: self.uid,
            gid: self.gid,
        }
    }

    /// Owned by the site's user, in `group` (nginx's, so it reads the site's static files).
    pub fn owner_in(self, group: u32) -> Owner {
        Owner {
            uid: self.uid,
            gid: group,
        }
    }

    /// Makes `cmd` run as this user: uid and gid set, and (std does this when it sets the
    /// uid as root) no supplementary groups — root's would otherwise stay; umask 022, so
    /// what it writes into wp-content stays readable to nginx.
    pub fn command(self, cmd: &mut tokio::process::Command) {
        cmd.uid(self.uid).gid(self.gid);
        // SAFETY: umask(2) is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o022));
                Ok(())
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base_plus_site_id_and_bounded() {
        assert_eq!(
            SiteUser::own(200_000, 7).unwrap(),
            SiteUser {
                uid: 200_007,
                gid: 200_007
            }
        );
        for bad in [0, -1, i64::from(u32::MAX)] {
            assert!(SiteUser::own(200_000, bad).is_err(), "{bad}");
        }
        assert!(SiteUser::own(u32::MAX - 10, 9).is_err());
    }

    /// A command run as a site user has the site's ids and no other group (as root).
    #[tokio::test]
    async fn commands_drop_every_group() {
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let user = SiteUser::own(3_900_000, 42).unwrap();
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c").arg("id -u; id -G; umask");
        user.command(&mut cmd);
        let out = cmd.output().await.unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, ["3900042", "3900042", "0022"], "{text}");
    }
}
