//! CreateLoadBalancer, DescribeLoadBalancers, DeleteLoadBalancer and the load balancer
//! attributes.

use std::{collections::BTreeMap, sync::Arc};

use berth_model::elb::{
    requests::{
        AttributesResult, CreateLoadBalancerRequest, DescribeLoadBalancersRequest, Empty, LoadBalancerArnRequest,
        LoadBalancersResult, ModifyAttributesRequest,
    },
    validate, AvailabilityZone, ElbError, LoadBalancer, LoadBalancerState, LoadBalancerStateCode, LoadBalancerType,
};

use super::{
    common::{self, page, random_hex},
    state::{ElbChange, LoadBalancerRecord, LISTENER, LOAD_BALANCER, RULE},
    tags,
};
use crate::{state::Change, Caller, Control};

/// The attributes berth keeps for a load balancer, with ELB's defaults.
fn default_attributes(kind: LoadBalancerType) -> BTreeMap<String, String> {
    let mut a: BTreeMap<String, String> = [
        ("deletion_protection.enabled", "false"),
        ("load_balancing.cross_zone.enabled", if kind == LoadBalancerType::Network { "false" } else { "true" }),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if kind == LoadBalancerType::Application {
        for (k, v) in [
            ("idle_timeout.timeout_seconds", "60"),
            ("routing.http2.enabled", "true"),
            ("routing.http.drop_invalid_header_fields.enabled", "false"),
            ("routing.http.xff_header_processing.mode", "append"),
            ("access_logs.s3.enabled", "false"),
        ] {
            a.insert(k.into(), v.into());
        }
    }
    a
}

impl Control {
    pub async fn create_load_balancer(
        &self,
        caller: &Caller,
        req: CreateLoadBalancerRequest,
    ) -> Result<LoadBalancersResult, ElbError> {
        let name = berth_model::elb::error::required(&req.name, "Name")?.clone();
        validate::name("Load balancer", &name)?;
        let kind = match req.kind.as_deref() {
            None => LoadBalancerType::Application,
            Some(t) => LoadBalancerType::parse(t).ok_or_else(|| {
                ElbError::validation(format!("Load balancer type '{t}' must be application, network or gateway"))
            })?,
        };
        if kind == LoadBalancerType::Gateway {
            return Err(ElbError::validation("Gateway load balancers are not supported by berth"));
        }
        let scheme = req.scheme.clone().unwrap_or_else(|| "internet-facing".into());
        if !matches!(scheme.as_str(), "internet-facing" | "internal") {
            return Err(ElbError::validation(format!("Scheme '{scheme}' must be internet-facing or internal")));
        }
        let ip_address_type = req.ip_address_type.clone().unwrap_or_else(|| "ipv4".into());
        let tags = tags::checked(&req.tags)?;
        let mut subnets: Vec<String> = req.subnets.clone();
        subnets.extend(req.subnet_mappings.iter().filter_map(|m| m.subnet_id.clone()));
        let caller = caller.clone();
        let dns_suffix = self.elb_settings().dns_suffix.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            if let Some(existing) = elb.load_balancer_named(&name) {
                // ELB answers a repeated identical create with the existing load balancer.
                if existing.load_balancer.kind == kind && existing.load_balancer.scheme == scheme {
                    return Ok(LoadBalancersResult {
                        load_balancers: vec![existing.load_balancer.clone()],
                        next_marker: None,
                    });
                }
                return Err(ElbError::duplicate_load_balancer_name());
            }
            let id = random_hex(16);
            let short = if kind == LoadBalancerType::Network { "net" } else { "app" };
            let arn =
                berth_model::elb::arn(&caller.region, &caller.account, &format!("loadbalancer/{short}/{name}/{id}"));
            let zones = if subnets.is_empty() {
                vec![AvailabilityZone { zone_name: Some(format!("{}a", caller.region)), subnet_id: None }]
            } else {
                subnets
                    .iter()
                    .map(|s| AvailabilityZone {
                        zone_name: Some(format!("{}a", caller.region)),
                        subnet_id: Some(s.clone()),
                    })
                    .collect()
            };
            let dns_name = match &dns_suffix {
                Some(host) => host.clone(),
                None => format!("{name}-{}.{}.elb.localhost", &id[..10], caller.region),
            };
            let load_balancer = LoadBalancer {
                load_balancer_arn: arn.clone(),
                dns_name,
                canonical_hosted_zone_id: "Z00BERTH0LOCAL".into(),
                created_time: berth_model::elb::iso8601(berth_model::time::now()),
                load_balancer_name: name,
                scheme,
                vpc_id: Some("vpc-berth".into()),
                state: LoadBalancerState { code: LoadBalancerStateCode::Active, reason: None },
                kind,
                availability_zones: zones,
                security_groups: req.security_groups,
                ip_address_type,
            };
            let record =
                LoadBalancerRecord { load_balancer: load_balancer.clone(), attributes: default_attributes(kind) };
            changes
                .push(Change::Elb { region: caller.region.clone(), change: ElbChange::LoadBalancer(Arc::new(record)) });
            tags::put(changes, &caller.region, &arn, tags);
            Ok(LoadBalancersResult { load_balancers: vec![load_balancer], next_marker: None })
        })
        .await
    }

    pub fn describe_load_balancers(
        &self,
        caller: &Caller,
        req: DescribeLoadBalancersRequest,
    ) -> Result<LoadBalancersResult, ElbError> {
        if !req.load_balancer_arns.is_empty() && !req.names.is_empty() {
            return Err(ElbError::validation(
                "Load balancer names and load balancer ARNs cannot be specified at the same time",
            ));
        }
        self.read(|state| {
            let elb = &state.region(&caller.region).elb;
            let found: Vec<LoadBalancer> = if !req.load_balancer_arns.is_empty() {
                req.load_balancer_arns
                    .iter()
                    .map(|a| {
                        elb.load_balancers
                            .get(a)
                            .map(|r| r.load_balancer.clone())
                            .ok_or_else(ElbError::load_balancer_not_found)
                    })
                    .collect::<Result<_, _>>()?
            } else if !req.names.is_empty() {
                req.names
                    .iter()
                    .map(|n| {
                        elb.load_balancer_named(n)
                            .map(|r| r.load_balancer.clone())
                            .ok_or_else(ElbError::load_balancer_not_found)
                    })
                    .collect::<Result<_, _>>()?
            } else {
                elb.load_balancers.values().map(|r| r.load_balancer.clone()).collect()
            };
            let (load_balancers, next_marker) = page(found, req.marker.as_deref(), req.page_size)?;
            Ok(LoadBalancersResult { load_balancers, next_marker })
        })
    }

    pub async fn delete_load_balancer(&self, caller: &Caller, req: LoadBalancerArnRequest) -> Result<Empty, ElbError> {
        let arn = berth_model::elb::error::required(&req.load_balancer_arn, "LoadBalancerArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let elb = &state.region(&caller.region).elb;
            // Deleting one that is already gone succeeds, as ELB's does.
            let Some(record) = elb.load_balancers.get(&arn) else { return Ok(Empty {}) };
            if record.attributes.get("deletion_protection.enabled").map(String::as_str) == Some("true") {
                return Err(ElbError::operation_not_permitted(format!(
                    "Load balancer '{arn}' cannot be deleted because deletion protection is enabled"
                )));
            }
            let region = caller.region.clone();
            for l in elb.listeners_of(&arn) {
                for r in elb.rules_of(&l.listener_arn) {
                    changes.push(common::delete(&region, RULE, &r.rule.rule_arn));
                }
                changes.push(common::delete(&region, LISTENER, &l.listener_arn));
            }
            changes.push(common::delete(&region, LOAD_BALANCER, &arn));
            tags::put(changes, &region, &arn, Vec::new());
            Ok(Empty {})
        })
        .await
    }

    pub fn describe_load_balancer_attributes(
        &self,
        caller: &Caller,
        req: LoadBalancerArnRequest,
    ) -> Result<AttributesResult, ElbError> {
        let arn = berth_model::elb::error::required(&req.load_balancer_arn, "LoadBalancerArn")?;
        self.read(|state| {
            let r = state
                .region(&caller.region)
                .elb
                .load_balancers
                .get(arn)
                .ok_or_else(ElbError::load_balancer_not_found)?;
            Ok(AttributesResult { attributes: common::attribute_list(&r.attributes) })
        })
    }

    pub async fn modify_load_balancer_attributes(
        &self,
        caller: &Caller,
        req: ModifyAttributesRequest,
    ) -> Result<AttributesResult, ElbError> {
        let arn = berth_model::elb::error::required(&req.load_balancer_arn, "LoadBalancerArn")?.clone();
        let caller = caller.clone();
        self.write(move |state, changes| {
            let r = state
                .region(&caller.region)
                .elb
                .load_balancers
                .get(&arn)
                .ok_or_else(ElbError::load_balancer_not_found)?;
            let attributes = common::modified_attributes(&r.attributes, &req.attributes, load_balancer_attribute)?;
            let record = LoadBalancerRecord { load_balancer: r.load_balancer.clone(), attributes };
            let result = AttributesResult { attributes: common::attribute_list(&record.attributes) };
            changes
                .push(Change::Elb { region: caller.region.clone(), change: ElbChange::LoadBalancer(Arc::new(record)) });
            Ok(result)
        })
        .await
    }
}

/// Checks one load balancer attribute's value.
fn load_balancer_attribute(key: &str, value: &str) -> Result<(), ElbError> {
    match key {
        "idle_timeout.timeout_seconds" => common::int_attribute(key, value, 1, 4000),
        k if k.ends_with(".enabled") => common::bool_attribute(key, value),
        "routing.http.xff_header_processing.mode" if matches!(value, "append" | "preserve" | "remove") => Ok(()),
        "access_logs.s3.bucket" | "access_logs.s3.prefix" => Ok(()),
        _ => Err(ElbError::validation(format!("Load balancer attribute key '{key}' is not recognized"))),
    }
}
