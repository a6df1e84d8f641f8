//! Checks berth against the published ECS API model in shared/aws-models: every operation
//! berth answers exists there, and every field berth puts in a response is a member the
//! model defines for that shape.

use std::path::PathBuf;

use berth_testkit::{RawClient, RegistryClient, Signing, TestServer};
use serde_json::Value;

fn model_of(service: &str) -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../../shared/aws-models/{service}/service-2.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Asserts every key of `value` is a member of `shape` (recursively through structures,
/// lists and maps).
fn check(model: &Value, shape: &str, value: &Value, path: &str) {
    let s = &model["shapes"][shape];
    match (s["type"].as_str(), value) {
        (Some("structure"), Value::Object(fields)) => {
            for (k, v) in fields {
                let member = &s["members"][k];
                assert!(member.is_object(), "{path}.{k} is not a member of {shape}");
                check(model, member["shape"].as_str().unwrap(), v, &format!("{path}.{k}"));
            }
        }
        (Some("list"), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                check(model, s["member"]["shape"].as_str().unwrap(), v, &format!("{path}[{i}]"));
            }
        }
        (Some("map"), Value::Object(fields)) => {
            for (k, v) in fields {
                check(model, s["value"]["shape"].as_str().unwrap(), v, &format!("{path}.{k}"));
            }
        }
        (Some("structure" | "list" | "map"), other) => {
            panic!("{path}: {shape} is a {}, got {other}", s["type"])
        }
        (Some("string"), v) => {
            assert!(v.is_string(), "{path}: expected a string, got {v}");
            if let Some(allowed) = s["enum"].as_array() {
                assert!(allowed.contains(v), "{path}: {v} is not a value of {shape}");
            }
        }
        (Some("integer" | "long" | "double" | "float" | "timestamp"), v) => {
            assert!(v.is_number(), "{path}: expected a number, got {v}")
        }
        (Some("boolean"), v) => assert!(v.is_boolean(), "{path}: expected a boolean, got {v}"),
        _ => {}
    }
}

#[test]
fn every_operation_is_in_the_model() {
    let model = model_of("ecs");
    for op in berth_api::ecs::OPERATIONS {
        assert!(model["operations"][op].is_object(), "{op} is not an ECS operation");
    }
}

#[tokio::test]
async fn responses_use_only_model_fields() {
    let model = model_of("ecs");
    let server = TestServer::start().await;
    let mut raw = RawClient::connect(server.addr).await.unwrap();
    let signing = Signing::With {
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        service: "ecs".into(),
        skew_secs: 0,
    };
    let calls: &[(&str, &str)] = &[
        ("CreateCluster", r#"{"clusterName":"web","tags":[{"key":"a","value":"b"}]}"#),
        (
            "DescribeClusters",
            r#"{"clusters":["web","ghost"],"include":["TAGS","SETTINGS","STATISTICS","CONFIGURATIONS"]}"#,
        ),
        ("ListClusters", r#"{"maxResults":1}"#),
        ("UpdateClusterSettings", r#"{"cluster":"web","settings":[{"name":"containerInsights","value":"enabled"}]}"#),
        (
            "RegisterTaskDefinition",
            r#"{"family":"web","tags":[{"key":"a","value":"b"}],"containerDefinitions":[{"name":"a","image":"x","memory":64,
               "portMappings":[{"containerPort":80}],"healthCheck":{"command":["CMD","true"]},"linuxParameters":{"initProcessEnabled":true}}]}"#,
        ),
        ("DescribeTaskDefinition", r#"{"taskDefinition":"web","include":["TAGS"]}"#),
        ("ListTaskDefinitions", "{}"),
        ("ListTaskDefinitionFamilies", "{}"),
        ("ListTagsForResource", r#"{"resourceArn":"arn:aws:ecs:us-east-1:123456789012:cluster/web"}"#),
        ("PutAccountSetting", r#"{"name":"containerInsights","value":"enabled"}"#),
        ("ListAccountSettings", r#"{"effectiveSettings":true}"#),
        ("DeregisterTaskDefinition", r#"{"taskDefinition":"web:1"}"#),
        ("DeleteTaskDefinitions", r#"{"taskDefinitions":["web:1","web:2"]}"#),
        ("RegisterTaskDefinition", r#"{"family":"web","containerDefinitions":[{"name":"a","image":"x","memory":64}]}"#),
        (
            "CreateService",
            r#"{"cluster":"web","serviceName":"svc","taskDefinition":"web","desiredCount":0,"tags":[{"key":"a","value":"b"}],
               "deploymentConfiguration":{"maximumPercent":200,"minimumHealthyPercent":50,"deploymentCircuitBreaker":{"enable":true,"rollback":true}}}"#,
        ),
        ("UpdateService", r#"{"cluster":"web","service":"svc","desiredCount":0,"forceNewDeployment":true}"#),
        ("DescribeServices", r#"{"cluster":"web","services":["svc","ghost"],"include":["TAGS"]}"#),
        ("ListServices", r#"{"cluster":"web"}"#),
        ("DeleteService", r#"{"cluster":"web","service":"svc","force":true}"#),
        (
            "RegisterContainerInstance",
            r#"{"cluster":"web","totalResources":[{"name":"CPU","type":"INTEGER","integerValue":1024},
               {"name":"MEMORY","type":"INTEGER","integerValue":2048},{"name":"PORTS","type":"STRINGSET","stringSetValue":["22"]}],
               "attributes":[{"name":"ecs.os-type","value":"linux"}],"versionInfo":{"agentVersion":"0.1.0"}}"#,
        ),
        (
            "DescribeContainerInstances",
            r#"{"cluster":"web","containerInstances":["{instance}","ghost"],"include":["TAGS"]}"#,
        ),
        ("ListContainerInstances", r#"{"cluster":"web"}"#),
        (
            "PutAttributes",
            r#"{"cluster":"web","attributes":[{"name":"rack","value":"r1","targetType":"container-instance","targetId":"{instance}"}]}"#,
        ),
        ("ListAttributes", r#"{"cluster":"web","targetType":"container-instance"}"#),
        ("UpdateContainerInstancesState", r#"{"cluster":"web","containerInstances":["{instance}"],"status":"ACTIVE"}"#),
        ("RunTask", r#"{"cluster":"web","taskDefinition":"web","tags":[{"key":"a","value":"b"}]}"#),
        ("DescribeTasks", r#"{"cluster":"web","tasks":["{task}","ghost"],"include":["TAGS"]}"#),
        ("ListTasks", r#"{"cluster":"web"}"#),
        (
            "SubmitTaskStateChange",
            r#"{"cluster":"web","task":"{task}","status":"RUNNING","containers":[{"containerName":"a","status":"RUNNING","runtimeId":"c0ffee",
               "networkBindings":[{"bindIP":"0.0.0.0","containerPort":80,"hostPort":32768,"protocol":"tcp"}]}]}"#,
        ),
        ("StopTask", r#"{"cluster":"web","task":"{task}","reason":"done"}"#),
        (
            "SubmitTaskStateChange",
            r#"{"cluster":"web","task":"{task}","status":"STOPPED","containers":[{"containerName":"a","status":"STOPPED","exitCode":143}]}"#,
        ),
        ("DescribeTasks", r#"{"cluster":"web","tasks":["{task}"]}"#),
        ("DeregisterContainerInstance", r#"{"cluster":"web","containerInstance":"{instance}","force":true}"#),
        ("DeleteCluster", r#"{"cluster":"web"}"#),
    ];
    let (mut instance, mut task) = (String::new(), String::new());
    for (op, body) in calls {
        let target = format!("AmazonEC2ContainerServiceV20141113.{op}");
        let body = body.replace("{instance}", &instance).replace("{task}", &task);
        let r = raw.call(&target, body.as_bytes(), &signing).await.unwrap();
        assert_eq!(r.status, 200, "{op}: {:?}", r.body);
        let output = model["operations"][op]["output"]["shape"].as_str().unwrap();
        check(&model, output, &r.body, op);
        if *op == "RegisterContainerInstance" {
            instance = r.body["containerInstance"]["containerInstanceArn"].as_str().unwrap().to_string();
        }
        if *op == "RunTask" {
            assert_eq!(r.body["tasks"].as_array().unwrap().len(), 1, "{:?}", r.body);
            task = r.body["tasks"][0]["taskArn"].as_str().unwrap().to_string();
        }
    }
}

#[test]
fn every_ecr_operation_is_in_the_model() {
    let model = model_of("ecr");
    for op in berth_registry::ecr::OPERATIONS {
        assert!(model["operations"][op].is_object(), "{op} is not an ECR operation");
    }
}

#[tokio::test]
async fn ecr_responses_use_only_model_fields() {
    let model = model_of("ecr");
    let server = TestServer::start().await;
    let mut raw = RawClient::connect(server.addr).await.unwrap();
    let signing = Signing::With {
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        service: "ecr".into(),
        skew_secs: 0,
    };
    let call = |op: &str| format!("AmazonEC2ContainerRegistry_V20150921.{op}");
    let r = raw
        .call(&call("CreateRepository"), br#"{"repositoryName":"web","tags":[{"Key":"a","Value":"b"}]}"#, &signing)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    let registry = RegistryClient::login(server.addr, &server.ecr("us-east-1")).await;
    let (digest, _) = registry.push_image("web", "v1", b"layer").await;
    let lifecycle = r#"{\"rules\":[{\"rulePriority\":1,\"description\":\"keep ten\",\"selection\":{\"tagStatus\":\"any\",\"countType\":\"imageCountMoreThan\",\"countNumber\":10},\"action\":{\"type\":\"expire\"}}]}"#;
    let arn = "arn:aws:ecr:us-east-1:123456789012:repository/web";
    let calls: Vec<(&str, String)> = vec![
        ("DescribeRepositories", "{}".into()),
        ("GetAuthorizationToken", "{}".into()),
        ("ListImages", r#"{"repositoryName":"web"}"#.into()),
        ("DescribeImages", r#"{"repositoryName":"web"}"#.into()),
        ("BatchGetImage", r#"{"repositoryName":"web","imageIds":[{"imageTag":"v1"},{"imageTag":"nope"}]}"#.into()),
        ("PutImageTagMutability", r#"{"repositoryName":"web","imageTagMutability":"MUTABLE"}"#.into()),
        (
            "PutImageScanningConfiguration",
            r#"{"repositoryName":"web","imageScanningConfiguration":{"scanOnPush":true}}"#.into(),
        ),
        ("PutLifecyclePolicy", format!(r#"{{"repositoryName":"web","lifecyclePolicyText":"{lifecycle}"}}"#)),
        ("GetLifecyclePolicy", r#"{"repositoryName":"web"}"#.into()),
        ("StartLifecyclePolicyPreview", r#"{"repositoryName":"web"}"#.into()),
        ("GetLifecyclePolicyPreview", r#"{"repositoryName":"web"}"#.into()),
        ("DeleteLifecyclePolicy", r#"{"repositoryName":"web"}"#.into()),
        (
            "SetRepositoryPolicy",
            r#"{"repositoryName":"web","policyText":"{\"Version\":\"2012-10-17\",\"Statement\":[]}"}"#.into(),
        ),
        ("GetRepositoryPolicy", r#"{"repositoryName":"web"}"#.into()),
        ("DeleteRepositoryPolicy", r#"{"repositoryName":"web"}"#.into()),
        ("TagResource", format!(r#"{{"resourceArn":"{arn}","tags":[{{"Key":"c","Value":"d"}}]}}"#)),
        ("ListTagsForResource", format!(r#"{{"resourceArn":"{arn}"}}"#)),
        ("UntagResource", format!(r#"{{"resourceArn":"{arn}","tagKeys":["c"]}}"#)),
        (
            "BatchDeleteImage",
            format!(r#"{{"repositoryName":"web","imageIds":[{{"imageDigest":"{digest}"}},{{"imageTag":"nope"}}]}}"#),
        ),
        ("DeleteRepository", r#"{"repositoryName":"web","force":true}"#.into()),
    ];
    for (op, body) in calls {
        let r = raw.call(&call(op), body.as_bytes(), &signing).await.unwrap();
        assert_eq!(r.status, 200, "{op}: {:?}", r.body);
        let output = model["operations"][op]["output"]["shape"].as_str().unwrap();
        check(&model, output, &r.body, op);
    }
    // Signed for the wrong service: refused.
    let ecs_signed = Signing::With {
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        service: "ecs".into(),
        skew_secs: 0,
    };
    let r = raw.call(&call("DescribeRepositories"), b"{}", &ecs_signed).await.unwrap();
    assert_ne!(r.status, 200);
}

/// Every call in order through AWS JSON (the target prefix, the signing service), each
/// answered 200 with only members of the operation's output shape.
async fn conforms(service: &str, target_prefix: &str, calls: &[(&str, &str)]) {
    let model = model_of(service);
    let server = TestServer::start().await;
    let mut raw = RawClient::connect(server.addr).await.unwrap();
    let signing_service = match service {
        "cloudwatch" => "monitoring",
        other => other,
    };
    let signing = Signing::With {
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        service: signing_service.into(),
        skew_secs: 0,
    };
    let ecs = Signing::With {
        credential: server.credential.clone(),
        region: "us-east-1".into(),
        service: "ecs".into(),
        skew_secs: 0,
    };
    for (op, body) in [
        ("CreateCluster", r#"{"clusterName":"c"}"#),
        ("RegisterTaskDefinition", r#"{"family":"web","containerDefinitions":[{"name":"a","image":"x","memory":64}]}"#),
        ("CreateService", r#"{"cluster":"c","serviceName":"web","taskDefinition":"web","desiredCount":1}"#),
    ] {
        let r = raw.call(&format!("AmazonEC2ContainerServiceV20141113.{op}"), body.as_bytes(), &ecs).await.unwrap();
        assert_eq!(r.status, 200, "{op}: {:?}", r.body);
    }
    let (mut policy, mut alarm) = (String::new(), String::new());
    for (op, body) in calls {
        let body = body.replace("{policy}", &policy).replace("{alarm}", &alarm);
        let r = raw.call(&format!("{target_prefix}{op}"), body.as_bytes(), &signing).await.unwrap();
        assert_eq!(r.status, 200, "{op}: {:?}", r.body);
        let output = model["operations"][op]["output"]["shape"].as_str();
        if let Some(output) = output {
            check(&model, output, &r.body, op);
        }
        if let Some(arn) = r.body["PolicyARN"].as_str() {
            policy = arn.to_string();
        }
        if let Some(arn) = r.body["MetricAlarms"][0]["AlarmArn"].as_str() {
            alarm = arn.to_string();
        }
    }
}

#[test]
fn every_cloudwatch_and_autoscaling_operation_is_in_the_model() {
    for (service, operations) in [
        ("cloudwatch", berth_api::cloudwatch::OPERATIONS),
        ("application-autoscaling", berth_api::autoscaling::OPERATIONS),
    ] {
        let model = model_of(service);
        for op in operations {
            assert!(model["operations"][op].is_object(), "{op} is not a {service} operation");
        }
    }
    // Every Application Auto Scaling operation the model lists is answered.
    let model = model_of("application-autoscaling");
    for op in model["operations"].as_object().unwrap().keys() {
        assert!(berth_api::autoscaling::OPERATIONS.contains(&op.as_str()), "{op} is not answered");
    }
}

#[tokio::test]
async fn cloudwatch_responses_use_only_model_fields() {
    let now = berth_model::time::now();
    let (start, end) = (now - 600.0, now + 60.0);
    let queries = r#"[{"Id":"m","MetricStat":{"Metric":{"Namespace":"Shop","MetricName":"Orders"},"Period":60,"Stat":"Sum"}},
                      {"Id":"e","Expression":"m * 2"}]"#;
    let calls = vec![
        ("PutMetricData", r#"{"Namespace":"Shop","MetricData":[{"MetricName":"Orders","Value":3,"Unit":"Count","StorageResolution":1}]}"#.to_string()),
        (
            "GetMetricStatistics",
            format!(r#"{{"Namespace":"Shop","MetricName":"Orders","StartTime":{start},"EndTime":{end},"Period":60,"Statistics":["Sum","SampleCount"]}}"#),
        ),
        ("GetMetricData", format!(r#"{{"MetricDataQueries":{queries},"StartTime":{start},"EndTime":{end}}}"#)),
        ("ListMetrics", r#"{"Namespace":"Shop"}"#.into()),
        (
            "PutMetricAlarm",
            r#"{"AlarmName":"a","Namespace":"Shop","MetricName":"Orders","Statistic":"Sum","Period":10,"EvaluationPeriods":1,
               "Threshold":1,"ComparisonOperator":"GreaterThanThreshold","OKActions":["arn:aws:sns:us-east-1:000000000000:t"],
               "Tags":[{"Key":"k","Value":"v"}]}"#.into(),
        ),
        ("DescribeAlarms", r#"{"AlarmNames":["a"]}"#.into()),
        ("DescribeAlarmsForMetric", r#"{"Namespace":"Shop","MetricName":"Orders"}"#.into()),
        ("SetAlarmState", r#"{"AlarmName":"a","StateValue":"ALARM","StateReason":"test","StateReasonData":"{}"}"#.into()),
        ("DescribeAlarmHistory", r#"{"AlarmName":"a"}"#.into()),
        ("DisableAlarmActions", r#"{"AlarmNames":["a"]}"#.into()),
        ("EnableAlarmActions", r#"{"AlarmNames":["a"]}"#.into()),
        ("TagResource", r#"{"ResourceARN":"{alarm}","Tags":[{"Key":"x","Value":"y"}]}"#.into()),
        ("ListTagsForResource", r#"{"ResourceARN":"{alarm}"}"#.into()),
        ("UntagResource", r#"{"ResourceARN":"{alarm}","TagKeys":["x"]}"#.into()),
        ("DeleteAlarms", r#"{"AlarmNames":["a"]}"#.into()),
    ];
    let calls: Vec<(&str, &str)> = calls.iter().map(|(op, body)| (*op, body.as_str())).collect();
    conforms("cloudwatch", "GraniteServiceVersion20100801.", &calls).await;
}

#[tokio::test]
async fn autoscaling_responses_use_only_model_fields() {
    const T: &str =
        r#""ServiceNamespace":"ecs","ResourceId":"service/c/web","ScalableDimension":"ecs:service:DesiredCount""#;
    let calls = vec![
        ("RegisterScalableTarget", format!(r#"{{{T},"MinCapacity":1,"MaxCapacity":3,"Tags":{{"a":"b"}}}}"#)),
        ("DescribeScalableTargets", r#"{"ServiceNamespace":"ecs"}"#.into()),
        (
            "PutScalingPolicy",
            format!(
                r#"{{{T},"PolicyName":"cpu","PolicyType":"TargetTrackingScaling","TargetTrackingScalingPolicyConfiguration":
                   {{"TargetValue":50,"PredefinedMetricSpecification":{{"PredefinedMetricType":"ECSServiceAverageCPUUtilization"}}}}}}"#
            ),
        ),
        (
            "PutScalingPolicy",
            format!(
                r#"{{{T},"PolicyName":"step","PolicyType":"StepScaling","StepScalingPolicyConfiguration":
                   {{"AdjustmentType":"ChangeInCapacity","StepAdjustments":[{{"MetricIntervalLowerBound":0,"ScalingAdjustment":1}}]}}}}"#
            ),
        ),
        ("DescribeScalingPolicies", r#"{"ServiceNamespace":"ecs"}"#.into()),
        (
            "PutScheduledAction",
            format!(
                r#"{{{T},"ScheduledActionName":"s","Schedule":"rate(1 hour)","ScalableTargetAction":{{"MinCapacity":2}}}}"#
            ),
        ),
        ("DescribeScheduledActions", r#"{"ServiceNamespace":"ecs"}"#.into()),
        ("DescribeScalingActivities", r#"{"ServiceNamespace":"ecs","IncludeNotScaledActivities":true}"#.into()),
        ("DeleteScheduledAction", format!(r#"{{{T},"ScheduledActionName":"s"}}"#)),
        ("DeleteScalingPolicy", format!(r#"{{{T},"PolicyName":"step"}}"#)),
        ("DeregisterScalableTarget", format!("{{{T}}}")),
    ];
    let calls: Vec<(&str, &str)> = calls.iter().map(|(op, body)| (*op, body.as_str())).collect();
    conforms("application-autoscaling", "AnyScaleFrontendService.", &calls).await;
}
