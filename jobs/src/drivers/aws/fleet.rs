//! The web fleet as staff see it: the instances of the shared Auto Scaling group, with the
//! group's view (availability zone, lifecycle, health) and EC2's (state, type, address,
//! status checks).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{step_error, AwsClients, AwsConfig};
use crate::drivers::StepError;

/// One web node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetInstance {
    pub instance_id: String,
    pub availability_zone: String,
    /// The group's lifecycle state: `InService`, `Pending`, `Terminating`…
    pub lifecycle_state: String,
    /// The group's health: `Healthy` or `Unhealthy`.
    pub health_status: String,
    /// EC2's state: `running`, `stopped`… (empty if EC2 does not know the instance).
    pub state: String,
    pub instance_type: String,
    pub private_ip: Option<String>,
    /// EC2's instance and system status checks: `ok`, `impaired`, `initializing`, or
    /// `unknown` when EC2 reports none.
    pub status_checks: String,
}

/// The fleet's instances, sorted by availability zone then id.
pub async fn web_fleet(
    clients: &AwsClients,
    cfg: &AwsConfig,
) -> Result<Vec<FleetInstance>, StepError> {
    let groups = clients
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(&cfg.web_asg)
        .send()
        .await
        .map_err(|e| step_error(&format!("read Auto Scaling group {}", cfg.web_asg), e))?;
    let Some(group) = groups.auto_scaling_groups().first() else {
        return Err(StepError::Permanent(format!(
            "Auto Scaling group {} does not exist: check MYWP_AWS_WEB_ASG",
            cfg.web_asg
        )));
    };
    let mut fleet: Vec<FleetInstance> = group
        .instances()
        .iter()
        .map(|i| FleetInstance {
            instance_id: i.instance_id().unwrap_or_default().to_string(),
            availability_zone: i.availability_zone().unwrap_or_default().to_string(),
            lifecycle_state: i
                .lifecycle_state()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            health_status: i.health_status().unwrap_or_default().to_string(),
            state: String::new(),
            instance_type: i.instance_type().unwrap_or_default().to_string(),
            private_ip: None,
            status_checks: "unknown".to_string(),
        })
        .collect();
    let ids: Vec<String> = fleet.iter().map(|i| i.instance_id.clone()).collect();
    if !ids.is_empty() {
        let described = clients
            .ec2
            .describe_instances()
            .set_instance_ids(Some(ids.clone()))
            .send()
            .await
            .map_err(|e| step_error("describe the web nodes", e))?;
        let by_id: HashMap<&str, &aws_sdk_ec2::types::Instance> = described
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .filter_map(|i| Some((i.instance_id()?, i)))
            .collect();
        let statuses = clients
            .ec2
            .describe_instance_status()
            .set_instance_ids(Some(ids))
            .include_all_instances(true)
            .send()
            .await
            .map_err(|e| step_error("read the web nodes' status checks", e))?;
        let checks: HashMap<&str, String> = statuses
            .instance_statuses()
            .iter()
            .filter_map(|s| {
                let summary = |x: Option<&aws_sdk_ec2::types::InstanceStatusSummary>| {
                    x.and_then(|x| x.status())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "unknown".to_string())
                };
                let (instance, system) = (summary(s.instance_status()), summary(s.system_status()));
                let combined = if instance == system {
                    instance
                } else if instance == "ok" {
                    system
                } else {
                    instance
                };
                Some((s.instance_id()?, combined))
            })
            .collect();
        for node in &mut fleet {
            if let Some(i) = by_id.get(node.instance_id.as_str()) {
                node.state = i
                    .state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_default();
                node.private_ip = i.private_ip_address().map(str::to_string);
                if let Some(t) = i.instance_type() {
                    node.instance_type = t.as_str().to_string();
                }
            }
            if let Some(c) = checks.get(node.instance_id.as_str()) {
                node.status_checks = c.clone();
            }
        }
    }
    fleet.sort_by(|a, b| {
        (&a.availability_zone, &a.instance_id).cmp(&(&b.availability_zone, &b.instance_id))
    });
    Ok(fleet)
}
