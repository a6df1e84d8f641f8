//! End to end with the real aws CLI: every installed CLI (v1 from pip on PATH, v2 from
//! Debian's `awscli` package at /usr/bin/aws) creates a cluster, registers a task
//! definition from a JSON file, describes it and lists families.

use std::path::Path;

use berth_testkit::BerthProcess;
use serde_json::Value;

use berth_testkit::installed_clis;

struct Aws<'a> {
    cli: &'a Path,
    server: &'a BerthProcess,
    region: &'a str,
}

impl Aws<'_> {
    fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.server.aws(self.cli, self.region, args);
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    fn json(&self, args: &[&str]) -> Value {
        let (ok, stdout, stderr) = self.run(args);
        assert!(ok, "{} {args:?} failed: {stderr}", self.cli.display());
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }
}

const TASK_DEFINITION: &str = r#"{
  "family": "web",
  "networkMode": "bridge",
  "containerDefinitions": [
    {
      "name": "httpd",
      "image": "busybox:latest",
      "memory": 64,
      "essential": true,
      "command": ["httpd", "-f", "-p", "8080"],
      "portMappings": [{"containerPort": 8080, "hostPort": 0, "protocol": "tcp"}],
      "environment": [{"name": "GREETING", "value": "hello"}],
      "healthCheck": {"command": ["CMD-SHELL", "wget -q -O- localhost:8080 || exit 1"], "interval": 10}
    }
  ],
  "tags": [{"key": "team", "value": "web"}]
}"#;

#[test]
fn the_aws_cli_walkthrough_works() {
    let clis = installed_clis();
    assert!(!clis.is_empty(), "no aws CLI found: install one (pip install awscli, or apt-get install awscli)");
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(Path::new(env!("CARGO_BIN_EXE_berth")), &dir.path().join("data"), 0);
    let td_file = dir.path().join("td.json");
    std::fs::write(&td_file, TASK_DEFINITION).unwrap();
    let td_arg = format!("file://{}", td_file.display());

    // Each CLI gets its own region, so each run starts from nothing.
    for (cli, region) in clis.iter().zip(["us-east-1", "eu-west-1"]) {
        let aws = Aws { cli, server: &server, region };
        let version = aws.run(&["--version"]);
        eprintln!("testing with {}: {}{}", cli.display(), version.1.trim(), version.2.trim());

        let cluster = aws.json(&["ecs", "create-cluster", "--cluster-name", "web"]);
        assert_eq!(cluster["cluster"]["clusterArn"], format!("arn:aws:ecs:{region}:000000000000:cluster/web"));

        let registered = aws.json(&["ecs", "register-task-definition", "--cli-input-json", &td_arg]);
        assert_eq!(registered["taskDefinition"]["revision"], 1);

        let described =
            aws.json(&["ecs", "describe-task-definition", "--task-definition", "web:1", "--include", "TAGS"]);
        let td = &described["taskDefinition"];
        assert_eq!(td["taskDefinitionArn"], format!("arn:aws:ecs:{region}:000000000000:task-definition/web:1"));
        assert_eq!(td["containerDefinitions"][0]["command"], serde_json::json!(["httpd", "-f", "-p", "8080"]));
        assert_eq!(td["containerDefinitions"][0]["healthCheck"]["retries"], 3);
        assert_eq!(described["tags"][0]["value"], "web");

        let families = aws.json(&["ecs", "list-task-definition-families"]);
        assert_eq!(families["families"], serde_json::json!(["web"]));

        let clusters = aws.json(&["ecs", "list-clusters"]);
        assert_eq!(clusters["clusterArns"].as_array().unwrap().len(), 1);

        // An error reaches the user as the ECS error, with a non-zero exit.
        let (ok, _, stderr) = aws.run(&["ecs", "describe-task-definition", "--task-definition", "web:7"]);
        assert!(
            !ok && stderr.contains("ClientException") && stderr.contains("Unable to describe task definition"),
            "{stderr}"
        );
    }
}

const FARGATE_DEFINITION: &str = r#"{
  "family": "fg",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "cpu": "256",
  "memory": "512",
  "containerDefinitions": [{"name": "app", "image": "busybox:latest", "portMappings": [{"containerPort": 80}]}]
}"#;

#[test]
fn capacity_providers_and_fargate_tasks_through_every_cli() {
    let clis = installed_clis();
    let dir = tempfile::tempdir().unwrap();
    let server = BerthProcess::start(Path::new(env!("CARGO_BIN_EXE_berth")), &dir.path().join("data"), 0);
    let td_file = dir.path().join("fg.json");
    std::fs::write(&td_file, FARGATE_DEFINITION).unwrap();
    let td_arg = format!("file://{}", td_file.display());
    for (cli, region) in clis.iter().zip(["us-east-1", "eu-west-1"]) {
        let aws = Aws { cli, server: &server, region };
        aws.json(&["ecs", "create-cluster", "--cluster-name", "apps"]);
        let made = aws.json(&[
            "ecs",
            "create-capacity-provider",
            "--name",
            "pool",
            "--auto-scaling-group-provider",
            "autoScalingGroupArn=pool-asg,managedScaling={status=ENABLED,targetCapacity=90},managedTerminationProtection=DISABLED",
        ]);
        let provider = &made["capacityProvider"];
        assert_eq!(provider["status"], "ACTIVE");
        assert_eq!(provider["autoScalingGroupProvider"]["managedScaling"]["targetCapacity"], 90);
        assert_eq!(provider["autoScalingGroupProvider"]["managedScaling"]["instanceWarmupPeriod"], 300);
        let described = aws.json(&["ecs", "describe-capacity-providers", "--capacity-providers", "pool", "FARGATE"]);
        assert_eq!(described["capacityProviders"].as_array().unwrap().len(), 2);
        let put = aws.json(&[
            "ecs",
            "put-cluster-capacity-providers",
            "--cluster",
            "apps",
            "--capacity-providers",
            "FARGATE",
            "pool",
            "--default-capacity-provider-strategy",
            "capacityProvider=FARGATE,weight=1,base=1",
        ]);
        assert_eq!(put["cluster"]["capacityProviders"], serde_json::json!(["FARGATE", "pool"]));

        aws.json(&["ecs", "register-task-definition", "--cli-input-json", &td_arg]);
        // No host offers Fargate capacity: the task waits in PROVISIONING, as on ECS.
        let run = aws.json(&[
            "ecs",
            "run-task",
            "--cluster",
            "apps",
            "--task-definition",
            "fg",
            "--network-configuration",
            "awsvpcConfiguration={subnets=[subnet-1],securityGroups=[sg-1],assignPublicIp=ENABLED}",
        ]);
        let task = &run["tasks"][0];
        assert_eq!(task["lastStatus"], "PROVISIONING");
        assert_eq!(task["capacityProviderName"], "FARGATE");
        assert_eq!(task["launchType"], "FARGATE");
        assert_eq!(task["attachments"][0]["type"], "ElasticNetworkInterface");
        assert_eq!(task["attachments"][0]["status"], "PRECREATED");
        assert!(task.get("containerInstanceArn").is_none(), "{task}");
        let arn = task["taskArn"].as_str().unwrap();
        let stopped = aws.json(&["ecs", "stop-task", "--cluster", "apps", "--task", arn]);
        assert_eq!(stopped["task"]["lastStatus"], "STOPPED");

        let (ok, _, stderr) = aws.run(&["ecs", "delete-capacity-provider", "--capacity-provider", "pool"]);
        assert!(!ok && stderr.contains("ClientException") && stderr.contains("in use"), "{stderr}");
        aws.json(&[
            "ecs",
            "put-cluster-capacity-providers",
            "--cluster",
            "apps",
            "--capacity-providers",
            "FARGATE",
            "--default-capacity-provider-strategy",
            "capacityProvider=FARGATE,weight=1",
        ]);
        let deleted = aws.json(&["ecs", "delete-capacity-provider", "--capacity-provider", "pool"]);
        assert_eq!(deleted["capacityProvider"]["status"], "INACTIVE");
    }
}
