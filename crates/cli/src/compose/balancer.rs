//! The load balancer of a compose service with several replicas and published ports: a
//! network load balancer named after the service, one TCP target group and listener per
//! published port, made through the ELBv2 API (so `aws elbv2` shows them), and removed by
//! `compose down`.

use anyhow::Context;
use berth_client::{xml_texts, ServerClient};
use berth_compose::PublishedPort;
use berth_model::service::LoadBalancer;

/// An ELB name from `base`: letters, digits and hyphens, at most 32 characters.
fn elb_name(base: &str) -> String {
    let cleaned: String = base.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let mut name: String = cleaned.trim_matches('-').chars().take(32).collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}

fn target_group_name(service: &str, port: &PublishedPort) -> String {
    let suffix = format!("-{}", port.published);
    let base = elb_name(service);
    let keep = 32usize.saturating_sub(suffix.len());
    format!("{}{suffix}", base.chars().take(keep).collect::<String>().trim_end_matches('-'))
}

fn first(xml: &str, element: &str) -> anyhow::Result<String> {
    xml_texts(xml, element).into_iter().next().with_context(|| format!("the answer has no {element}"))
}

/// Creates (or finds) the load balancer, target groups and listeners of `service`; the
/// service's `loadBalancers`. Tasks with addresses of their own (`own_address`, awsvpc)
/// are `ip` targets, others `instance` targets.
pub(super) async fn ensure(
    client: &ServerClient,
    service: &str,
    ports: &[PublishedPort],
    own_address: bool,
) -> anyhow::Result<Vec<LoadBalancer>> {
    if ports.is_empty() {
        return Ok(Vec::new());
    }
    let name = elb_name(service);
    let created = client.elb("CreateLoadBalancer", &[("Name", &name), ("Type", "network")]).await;
    let lb = first(&created.with_context(|| format!("creating load balancer {name}"))?, "LoadBalancerArn")?;
    let listeners = client.elb("DescribeListeners", &[("LoadBalancerArn", &lb)]).await?;
    let taken: Vec<String> = xml_texts(&listeners, "Port");
    let mut out = Vec::new();
    for p in ports {
        let tg_name = target_group_name(service, p);
        let port = p.container_port.to_string();
        let tg = client
            .elb(
                "CreateTargetGroup",
                &[
                    ("Name", &tg_name),
                    ("Protocol", "TCP"),
                    ("Port", &port),
                    ("TargetType", if own_address { "ip" } else { "instance" }),
                    ("HealthCheckIntervalSeconds", "5"),
                ],
            )
            .await
            .with_context(|| format!("creating target group {tg_name}"))?;
        let tg = first(&tg, "TargetGroupArn")?;
        let published = p.published.to_string();
        if !taken.contains(&published) {
            client
                .elb(
                    "CreateListener",
                    &[
                        ("LoadBalancerArn", &lb),
                        ("Protocol", "TCP"),
                        ("Port", &published),
                        ("DefaultActions.member.1.Type", "forward"),
                        ("DefaultActions.member.1.TargetGroupArn", &tg),
                    ],
                )
                .await
                .with_context(|| format!("creating the listener on port {published}"))?;
        }
        out.push(LoadBalancer {
            target_group_arn: Some(tg),
            container_name: Some(p.container_name.clone()),
            container_port: Some(p.container_port),
            load_balancer_name: None,
        });
    }
    Ok(out)
}

/// Deletes the load balancer and target groups [`ensure`] made; what is gone already is fine.
pub(super) async fn remove(client: &ServerClient, service: &str, ports: &[PublishedPort]) -> anyhow::Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let name = elb_name(service);
    if let Ok(found) = client.elb("DescribeLoadBalancers", &[("Names.member.1", &name)]).await {
        for lb in xml_texts(&found, "LoadBalancerArn") {
            client.elb("DeleteLoadBalancer", &[("LoadBalancerArn", &lb)]).await?;
        }
    }
    for p in ports {
        let tg_name = target_group_name(service, p);
        if let Ok(found) = client.elb("DescribeTargetGroups", &[("Names.member.1", &tg_name)]).await {
            for tg in xml_texts(&found, "TargetGroupArn") {
                client.elb("DeleteTargetGroup", &[("TargetGroupArn", &tg)]).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_elb_rules() {
        assert_eq!(elb_name("shop_web"), "shop-web");
        assert_eq!(elb_name("a-very-long-project-name-and-service-name"), "a-very-long-project-name-and-ser");
        let p = PublishedPort { container_name: "web".into(), container_port: 80, published: 8080 };
        assert_eq!(
            target_group_name("a-very-long-project-name-and-service-name", &p),
            "a-very-long-project-name-an-8080"
        );
        assert_eq!(target_group_name("shop", &p), "shop-8080");
    }
}
