//! Proof that a customer controls a domain before a site is served on it: the domain's
//! CNAME points at the site's platform hostname, or a TXT record at
//! `_mywp-challenge.<domain>` holds the site's token for it. Pure: what DNS answered goes in,
//! the domain's next state comes out (the lookup is `crate::dns_lookup`).

use super::Hostname;

/// The label under a domain where its TXT proof goes.
pub const CHALLENGE_LABEL: &str = "_mywp-challenge";
/// What the TXT record's value starts with, followed by the token.
const TOKEN_PREFIX: &str = "mywp-verify=";

/// Where a customer's domain stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofState {
    /// Not proven yet: no record found (or not looked for yet).
    Pending,
    /// Proven: the site is served on it.
    Verified,
    /// Never proven: a record points elsewhere, or DNS could not be asked.
    Failed,
    /// Was proven, and a later check found the proof gone: no longer served.
    Lost,
}

impl ProofState {
    pub const ALL: [ProofState; 4] = [
        ProofState::Pending,
        ProofState::Verified,
        ProofState::Failed,
        ProofState::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProofState::Pending => "pending",
            ProofState::Verified => "verified",
            ProofState::Failed => "failed",
            ProofState::Lost => "lost",
        }
    }
}

stored_names!(ProofState, "domain proof state");

/// A site's token for one of its domains: 32 hex characters, random, stored with the
/// domain (it is published in DNS, so it is no secret; it only has to be unguessable
/// before the owner publishes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeToken(String);

impl ChallengeToken {
    pub fn generate() -> Self {
        Self(hex::encode(rand::random::<[u8; 16]>()))
    }

    pub fn from_stored(stored: &str) -> Self {
        Self(stored.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The records that prove a domain is the site's: either one will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub domain: Hostname,
    /// The CNAME's target: the site's platform hostname.
    pub cname_target: Hostname,
    /// `_mywp-challenge.<domain>`.
    pub txt_name: String,
    /// `mywp-verify=<token>`.
    pub txt_value: String,
}

impl Challenge {
    pub fn new(domain: Hostname, platform_host: Hostname, token: &ChallengeToken) -> Self {
        Self {
            txt_name: format!("{CHALLENGE_LABEL}.{domain}"),
            txt_value: format!("{TOKEN_PREFIX}{}", token.as_str()),
            domain,
            cname_target: platform_host,
        }
    }
}

/// What DNS answered for one name and record type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// These records (CNAME targets without the trailing dot, or TXT values).
    Found(Vec<String>),
    /// The name or the record type does not exist.
    Nothing,
    /// DNS could not be asked, or failed to answer (a timeout, SERVFAIL).
    Error(String),
}

/// What DNS answered for a domain's proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    /// The domain's CNAME.
    pub cname: Answer,
    /// The TXT records at the challenge name.
    pub txt: Answer,
}

/// What the answers prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The CNAME points at the site (`true`) or the TXT record holds its token (`false`).
    Proven { by_cname: bool },
    /// No record at all.
    Absent,
    /// A record exists, but proves nothing for this site: why.
    Wrong(String),
    /// DNS did not answer: nothing can be said.
    Inconclusive(String),
}

/// Judges what DNS answered against the challenge.
pub fn judge(challenge: &Challenge, answers: &Answers) -> Verdict {
    let target = challenge.cname_target.as_str();
    let found = |a: &Answer| match a {
        Answer::Found(v) => v.clone(),
        _ => Vec::new(),
    };
    let cnames: Vec<String> = found(&answers.cname)
        .iter()
        .map(|c| c.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    if cnames.iter().any(|c| c == target) {
        return Verdict::Proven { by_cname: true };
    }
    let txts = found(&answers.txt);
    if txts.iter().any(|t| t.trim() == challenge.txt_value) {
        return Verdict::Proven { by_cname: false };
    }
    for answer in [&answers.cname, &answers.txt] {
        if let Answer::Error(e) = answer {
            return Verdict::Inconclusive(e.clone());
        }
    }
    if let Some(other) = cnames.first() {
        return Verdict::Wrong(format!(
            "{} has a CNAME to {other}, not to {target}.",
            challenge.domain
        ));
    }
    if !txts.is_empty() {
        return Verdict::Wrong(format!(
            "The TXT record at {} does not hold this site's value.",
            challenge.txt_name
        ));
    }
    Verdict::Absent
}

/// A domain's state after a check, and what the owner is told about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub state: ProofState,
    pub detail: String,
}

/// The domain's next state, from its state before the check and the check's verdict. A
/// verified domain stays served when DNS cannot be asked (an outage of the resolver must
/// not take every customer's domain down), and is lost as soon as DNS says otherwise.
pub fn next_state(before: ProofState, verdict: Verdict, challenge: &Challenge) -> Checked {
    let was_served = matches!(before, ProofState::Verified | ProofState::Lost);
    let (state, detail) = match verdict {
        Verdict::Proven { by_cname: true } => (
            ProofState::Verified,
            format!("Its CNAME points at {}.", challenge.cname_target),
        ),
        Verdict::Proven { by_cname: false } => (
            ProofState::Verified,
            format!(
                "The TXT record at {} holds this site's value.",
                challenge.txt_name
            ),
        ),
        Verdict::Inconclusive(e) if before == ProofState::Verified => (
            ProofState::Verified,
            format!("The last check could not ask DNS ({e}); still served."),
        ),
        Verdict::Inconclusive(e) if before == ProofState::Lost => {
            (ProofState::Lost, format!("DNS could not be asked: {e}."))
        }
        Verdict::Inconclusive(e) => (ProofState::Failed, format!("DNS could not be asked: {e}.")),
        Verdict::Absent if was_served => (
            ProofState::Lost,
            format!(
                "Neither a CNAME to {} nor the TXT record at {} is there any more.",
                challenge.cname_target, challenge.txt_name
            ),
        ),
        Verdict::Absent => (ProofState::Pending, "No record found yet.".to_string()),
        Verdict::Wrong(why) if was_served => (ProofState::Lost, why),
        Verdict::Wrong(why) => (ProofState::Failed, why),
    };
    Checked { state, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge() -> Challenge {
        Challenge::new(
            Hostname::parse("www.example.com").unwrap(),
            Hostname::parse("blog.sites.example.net").unwrap(),
            &ChallengeToken::from_stored("abc123"),
        )
    }

    fn answers(cname: Answer, txt: Answer) -> Answers {
        Answers { cname, txt }
    }

    fn found(v: &str) -> Answer {
        Answer::Found(vec![v.to_string()])
    }

    #[test]
    fn the_records_to_create() {
        let c = challenge();
        assert_eq!(c.txt_name, "_mywp-challenge.www.example.com");
        assert_eq!(c.txt_value, "mywp-verify=abc123");
        let t = ChallengeToken::generate();
        assert_eq!(t.as_str().len(), 32);
        assert_ne!(t, ChallengeToken::generate());
    }

    #[test]
    fn what_proves_a_domain() {
        let c = challenge();
        let judge = |a| judge(&c, &a);
        assert_eq!(
            judge(answers(found("Blog.Sites.Example.NET."), Answer::Nothing)),
            Verdict::Proven { by_cname: true }
        );
        assert_eq!(
            judge(answers(Answer::Nothing, found("mywp-verify=abc123"))),
            Verdict::Proven { by_cname: false }
        );
        // A proof wins over a failed lookup of the other record.
        assert_eq!(
            judge(answers(
                Answer::Error("timeout".into()),
                found("mywp-verify=abc123")
            )),
            Verdict::Proven { by_cname: false }
        );
        assert_eq!(
            judge(answers(Answer::Nothing, Answer::Nothing)),
            Verdict::Absent
        );
        assert!(matches!(
            judge(answers(found("other.sites.example.net"), Answer::Nothing)),
            Verdict::Wrong(w) if w.contains("CNAME to other.sites.example.net")
        ));
        // Another site's token, or a prefix of ours, proves nothing.
        for value in ["mywp-verify=zzz", "mywp-verify=abc", "abc123"] {
            assert!(matches!(
                judge(answers(Answer::Nothing, found(value))),
                Verdict::Wrong(_)
            ));
        }
        assert!(matches!(
            judge(answers(Answer::Error("SERVFAIL".into()), Answer::Nothing)),
            Verdict::Inconclusive(_)
        ));
    }

    #[test]
    fn states_move_with_the_proof() {
        use ProofState::*;
        let c = challenge();
        let next = |before, v| next_state(before, v, &c).state;
        let proven = Verdict::Proven { by_cname: true };
        for before in ProofState::ALL {
            assert_eq!(next(before, proven.clone()), Verified);
        }
        assert_eq!(next(Pending, Verdict::Absent), Pending);
        assert_eq!(next(Failed, Verdict::Absent), Pending);
        assert_eq!(next(Verified, Verdict::Absent), Lost);
        assert_eq!(next(Lost, Verdict::Absent), Lost);
        assert_eq!(next(Pending, Verdict::Wrong("x".into())), Failed);
        assert_eq!(next(Verified, Verdict::Wrong("x".into())), Lost);
        // DNS down: a served domain stays served, an unproven one is not proven.
        let down = || Verdict::Inconclusive("timeout".into());
        assert_eq!(next(Verified, down()), Verified);
        assert_eq!(next(Pending, down()), Failed);
        assert_eq!(next(Lost, down()), Lost);
        assert_eq!(next(Failed, down()), Failed);
        let lost = next_state(Verified, Verdict::Absent, &c);
        assert!(lost.detail.contains("_mywp-challenge.www.example.com"));
    }

    #[test]
    fn states_round_trip() {
        for s in ProofState::ALL {
            assert_eq!(ProofState::try_from(s.as_str().to_owned()), Ok(s));
        }
    }
}
