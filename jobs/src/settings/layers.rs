//! Where settings come from, most important first: the command line, the process
//! environment, the config file (`--config FILE` / `MYWP_CONFIG`), the data plane's
//! `<state dir>/dataplane.env` (written by `scripts/dataplane.sh start`), then each key's
//! built-in default.
//!
//! The files are `KEY=value` lines (dotenvy's format: comments, `export`, quotes). They are
//! never put into the environment: their values become the defaults of the command line's
//! arguments whose environment variable has that name, before clap parses it once.

use std::{
    collections::HashMap,
    ffi::OsString,
    path::{Path, PathBuf},
};

use clap::{parser::ValueSource, Args, Command, FromArgMatches};

use super::Settings;

/// Why the settings cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: expected KEY=value, found {text:?}")]
    Syntax {
        path: PathBuf,
        line: usize,
        text: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The `KEY=value` pairs of an env-style file (tests read `dataplane.env` with it).
pub fn read_env_file(path: &Path) -> Result<HashMap<String, String>, SettingsError> {
    Ok(Layer::read(path)?.vars)
}

/// One file's `KEY=value` pairs.
#[derive(Debug, Clone, Default)]
struct Layer {
    vars: HashMap<String, String>,
}

impl Layer {
    fn of<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Layer {
        let vars = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Layer { vars }
    }

    fn read(path: &Path) -> Result<Layer, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut vars = HashMap::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            match item {
                Ok((key, value)) => {
                    vars.insert(key, value);
                }
                Err(dotenvy::Error::LineParse(bad, _)) => {
                    let line = text
                        .lines()
                        .position(|l| bad.starts_with(l.trim()) || l.trim() == bad.trim())
                        .map_or(0, |i| i + 1);
                    return Err(SettingsError::Syntax {
                        path: path.to_path_buf(),
                        line,
                        text: bad.lines().next().unwrap_or_default().to_string(),
                    });
                }
                Err(e) => {
                    return Err(SettingsError::Read {
                        path: path.to_path_buf(),
                        source: std::io::Error::other(e.to_string()),
                    })
                }
            }
        }
        Ok(Layer { vars })
    }
}

/// The config files' values, most important first.
#[derive(Debug, Clone, Default)]
pub struct Layers {
    layers: Vec<Layer>,
    /// The process environment is read too (the command line's case); tests turn it off.
    use_env: bool,
}

impl Layers {
    /// The layers for the command line `args` of `cmd`: the config file it names, then the
    /// `dataplane.env` of the state directory it names (either may be set by a flag, the
    /// environment, or — the state directory — the config file).
    pub fn discover(cmd: &Command, args: &[OsString]) -> Result<Layers, SettingsError> {
        let matches = cmd
            .clone()
            .ignore_errors(true)
            .try_get_matches_from(args)
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        let given = |id: &str| {
            matches!(
                matches.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
            .then(|| matches.get_one::<PathBuf>(id).cloned())
            .flatten()
        };
        let mut layers = Layers {
            layers: Vec::new(),
            use_env: true,
        };
        if let Some(config) = given("config") {
            layers.layers.push(Layer::read(&config)?);
        }
        let state_dir = given("state_dir")
            .or_else(|| {
                layers
                    .layers
                    .first()
                    .and_then(|l| l.vars.get("MYWP_STATE_DIR").map(PathBuf::from))
            })
            .unwrap_or_else(|| PathBuf::from("var"));
        let dataplane = state_dir.join("dataplane.env");
        if dataplane.is_file() {
            layers.layers.push(Layer::read(&dataplane)?);
        }
        Ok(layers)
    }

    /// One layer of `pairs`, and no environment.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Layers {
        Layers {
            layers: vec![Layer::of(pairs)],
            use_env: false,
        }
    }

    /// `<state_dir>/dataplane.env` (which must exist), with `state_dir` as the state
    /// directory, and no environment.
    pub fn of_data_plane(state_dir: &Path) -> Result<Layers, SettingsError> {
        let mut layer = Layer::read(&state_dir.join("dataplane.env"))?;
        layer
            .vars
            .insert("MYWP_STATE_DIR".into(), state_dir.display().to_string());
        Ok(Layers {
            layers: vec![layer],
            use_env: false,
        })
    }

    /// These layers under a new first one of `pairs` (tests: a data plane's settings with
    /// a few of their own).
    pub fn with<K: Into<String>, V: Into<String>>(
        mut self,
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Layers {
        self.layers.insert(0, Layer::of(pairs));
        self
    }

    /// The value the layers give `key`, if any.
    fn get(&self, key: &str) -> Option<&String> {
        self.layers.iter().find_map(|l| l.vars.get(key))
    }

    /// `cmd` with the layers' values as the defaults of the arguments (of every
    /// subcommand too) named by their environment variable. An argument whose variable is
    /// set in the environment keeps it (the environment wins over the files); without the
    /// environment, no argument reads it.
    pub fn apply(&self, cmd: Command) -> Command {
        let cmd = cmd.mut_args(|arg| {
            let Some(key) = arg.get_env().and_then(|k| k.to_str()).map(str::to_string) else {
                return arg;
            };
            let arg = if self.use_env { arg } else { arg.env(None) };
            // A bad value then names the key to fix (`--sites-port <MYWP_SITES_PORT>`),
            // wherever it came from.
            let arg = if arg.get_action().takes_values() {
                arg.value_name(key.clone())
            } else {
                arg
            };
            let in_env = self.use_env && std::env::var_os(&key).is_some();
            match self.get(&key) {
                Some(value) if !in_env => arg.default_value(value.clone()),
                _ => arg,
            }
        });
        cmd.mut_subcommands(|sub| self.apply(sub))
    }

    /// [`Settings`] from the layers alone (no command line; the environment only if these
    /// layers were discovered for a command line).
    pub fn settings(self) -> Result<Settings, SettingsError> {
        let cmd = self.apply(Settings::augment_args(
            Command::new("mywp").no_binary_name(true),
        ));
        let matches = cmd
            .try_get_matches_from(Vec::<OsString>::new())
            .map_err(|e| SettingsError::Invalid(e.to_string()))?;
        Settings::from_arg_matches(&matches).map_err(|e| SettingsError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_with_their_errors_located() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mywp.env");
        std::fs::write(&file, "# c\nA=1\nexport B=\"two\"\n\nC='x y'\n").unwrap();
        let layer = Layer::read(&file).unwrap();
        assert_eq!(layer.vars["A"], "1");
        assert_eq!(layer.vars["B"], "two");
        assert_eq!(layer.vars["C"], "x y");

        std::fs::write(&file, "A=1\nthis line is not a setting\n").unwrap();
        let err = Layer::read(&file).unwrap_err().to_string();
        assert!(err.contains("mywp.env:2: expected KEY=value"), "{err}");
    }

    #[test]
    fn the_first_layer_wins() {
        let mut layers = Layers::from_pairs([("MYWP_SITES_PORT", "81")]);
        layers.layers.push(Layer {
            vars: [("MYWP_SITES_PORT".into(), "82".into())].into(),
        });
        assert_eq!(layers.settings().unwrap().sites.sites_port, Some(81));
    }
}
