//! The platform's AWS WAF web ACL (deploy/mywp.yaml's `WebAcl`): the cdn step attaches it
//! to every site's distribution, and `mywp infra check` reads it back and checks that it
//! still protects the sites: AWS's managed rule groups for core rules, WordPress, PHP and
//! known bad inputs, and a per-address rate limit on `/wp-login.php` and `/xmlrpc.php`.

use aws_sdk_wafv2::types::{
    ByteMatchStatement, PositionalConstraint, RateBasedStatementAggregateKeyType, Rule, Scope,
    Statement, WebAcl,
};

use super::{
    check::{explain, Check},
    AwsClients, AwsConfig,
};

/// The AWS managed rule groups every site's traffic goes through.
pub const MANAGED_RULE_GROUPS: [&str; 4] = [
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesWordPressRuleSet",
    "AWSManagedRulesPHPRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
];

/// The paths a rate-based rule limits per client address (password guessing).
pub const RATE_LIMITED_PATHS: [&str; 2] = ["/wp-login.php", "/xmlrpc.php"];

/// A CloudFront-scoped web ACL's ARN,
/// `arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>`, with the name and id
/// WAF's `GetWebACL` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAclArn {
    arn: String,
    name: String,
    id: String,
}

impl WebAclArn {
    /// Refuses anything but a CLOUDFRONT web ACL's ARN (a regional one cannot be attached
    /// to a distribution), saying why.
    pub fn parse(arn: &str) -> Result<Self, &'static str> {
        const WHY: &str = "it must be the ARN of a CLOUDFRONT-scoped AWS WAF web ACL \
                           (arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>)";
        let parts: Vec<&str> = arn.trim().splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return Err(WHY);
        };
        let path: Vec<&str> = resource.split('/').collect();
        let ok = prefix == "arn"
            && partition.starts_with("aws")
            && service == "wafv2"
            && region == "us-east-1"
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && path.len() == 4
            && path[0] == "global"
            && path[1] == "webacl"
            && !path[2].is_empty()
            && !path[3].is_empty();
        if !ok {
            return Err(WHY);
        }
        Ok(Self {
            arn: arn.trim().to_string(),
            name: path[2].to_string(),
            id: path[3].to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl std::fmt::Display for WebAclArn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.arn)
    }
}

/// `mywp infra check`'s finding on the web ACL: read from WAF (us-east-1, scope
/// CLOUDFRONT), then [`judge_web_acl`]d.
pub(super) async fn check_web_acl(cfg: &AwsConfig, c: &AwsClients) -> Check {
    let acl = &cfg.web_acl;
    let what = format!("web ACL {} (MYWP_AWS_WEB_ACL_ARN)", acl.name());
    let out = match c
        .wafv2
        .get_web_acl()
        .scope(Scope::Cloudfront)
        .name(acl.name())
        .id(acl.id())
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => return Check::problem(what, format!("cannot be read: {}", explain(&e))),
    };
    match out.web_acl().map(judge_web_acl) {
        Some(Ok(detail)) => Check::ok(what, detail),
        Some(Err(problem)) => Check::problem(what, problem),
        None => Check::problem(what, "WAF returned no web ACL"),
    }
}

/// Whether `acl` protects the sites as deploy/mywp.yaml's `WebAcl` does: what it found,
/// or every shortfall in one message.
pub fn judge_web_acl(acl: &WebAcl) -> Result<String, String> {
    let mut problems = Vec::new();
    if acl.default_action().is_some_and(|a| a.block().is_some()) {
        problems.push("its default action blocks every request: it must allow".to_string());
    }
    for group in MANAGED_RULE_GROUPS {
        let rule = acl.rules().iter().find(|r| {
            r.statement()
                .and_then(Statement::managed_rule_group_statement)
                .is_some_and(|m| m.vendor_name() == "AWS" && m.name() == group)
        });
        match rule {
            None => problems.push(format!("has no rule with the managed group {group}")),
            Some(rule) if rule.override_action().is_some_and(|o| o.count().is_some()) => problems
                .push(format!(
                    "counts {group}'s matches instead of acting on them (override action Count)"
                )),
            Some(rule) => problems.extend(without_metrics(rule)),
        }
    }
    let rate = acl.rules().iter().find(|r| rate_limits_logins(r));
    match rate {
        None => problems.push(format!(
            "has no rate-based rule that blocks per IP address on {}",
            RATE_LIMITED_PATHS.join(" and ")
        )),
        Some(rule) => problems.extend(without_metrics(rule)),
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let limit = rate
        .and_then(|r| r.statement())
        .and_then(Statement::rate_based_statement)
        .map(|r| r.limit())
        .unwrap_or_default();
    Ok(format!(
        "{} managed groups, {} limited to {limit} requests per address per 5 minutes",
        MANAGED_RULE_GROUPS.len(),
        RATE_LIMITED_PATHS.join(" and ")
    ))
}

/// A rule without CloudWatch metrics leaves its blocks unseen.
fn without_metrics(rule: &Rule) -> Option<String> {
    let on = rule
        .visibility_config()
        .is_some_and(|v| v.cloud_watch_metrics_enabled());
    (!on).then(|| format!("rule {} has no CloudWatch metrics", rule.name()))
}

/// A rule that blocks, per client address, requests whose path is one of
/// [`RATE_LIMITED_PATHS`] (all of them).
fn rate_limits_logins(rule: &Rule) -> bool {
    let Some(rate) = rule.statement().and_then(Statement::rate_based_statement) else {
        return false;
    };
    let blocks = rule.action().is_some_and(|a| a.block().is_some());
    let per_ip = rate.aggregate_key_type() == &RateBasedStatementAggregateKeyType::Ip;
    let mut paths = Vec::new();
    if let Some(scope) = rate.scope_down_statement() {
        collect_paths(scope, &mut paths);
    }
    blocks && per_ip && RATE_LIMITED_PATHS.iter().all(|p| paths.contains(p))
}

/// The URI paths a scope-down statement matches exactly: a byte match, or an OR of them.
fn collect_paths<'a>(statement: &'a Statement, into: &mut Vec<&'a str>) {
    if let Some(m) = statement.byte_match_statement() {
        if let Some(path) = exact_path(m) {
            into.push(path);
        }
    }
    if let Some(or) = statement.or_statement() {
        for s in or.statements() {
            collect_paths(s, into);
        }
    }
}

fn exact_path(m: &ByteMatchStatement) -> Option<&str> {
    let on_path = m.field_to_match().is_some_and(|f| f.uri_path().is_some());
    let exact = m.positional_constraint() == &PositionalConstraint::Exactly;
    (on_path && exact)
        .then(|| std::str::from_utf8(m.search_string().as_ref()).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_cloudfront_web_acl_arns_are_taken() {
        let arn = WebAclArn::parse(
            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/mywp-sites/0a1b-2c3d",
        )
        .unwrap();
        assert_eq!((arn.name(), arn.id()), ("mywp-sites", "0a1b-2c3d"));
        for bad in [
            "",
            "mywp-sites",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/mywp/0a1b",
            "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/mywp/0a1b",
            "arn:aws:wafv2:us-east-1:123456789012:global/ipset/mywp/0a1b",
            "arn:aws:wafv2:us-east-1:1234:global/webacl/mywp/0a1b",
            "arn:aws:wafv2:us-east-1:123456789012:global/webacl/mywp",
            "arn:aws:acm:us-east-1:123456789012:global/webacl/mywp/0a1b",
        ] {
            assert!(WebAclArn::parse(bad).is_err(), "{bad:?} is refused");
        }
    }
}
