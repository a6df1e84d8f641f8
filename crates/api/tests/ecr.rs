//! The ECR API through the AWS SDK for Rust: repositories, tokens, images, tag
//! immutability, lifecycle policies (evaluation, preview, expiry), repository policies,
//! tags, and garbage collection after deletes.

use std::time::Duration;

use aws_sdk_ecr::types::{ImageIdentifier, ImageTagMutability, Tag, TagStatus};
use base64::Engine;
use berth_testkit::{digest_of, image_manifest, wait_for, RegistryClient, TestServer};
use hyper::Method;

fn code<E: aws_sdk_ecr::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("none").to_string()
}

fn tag(t: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_tag(t).build()
}

fn digest(d: &str) -> ImageIdentifier {
    ImageIdentifier::builder().image_digest(d).build()
}

#[tokio::test]
async fn repositories_and_tokens() {
    let server = TestServer::start().await;
    let ecr = server.ecr("us-east-1");
    let repo = ecr
        .create_repository()
        .repository_name("team/web")
        .tags(Tag::builder().key("env").value("dev").build().unwrap())
        .send()
        .await
        .unwrap()
        .repository
        .unwrap();
    assert_eq!(repo.repository_uri(), Some(format!("{}/team/web", server.addr).as_str()));
    assert_eq!(repo.repository_arn(), Some("arn:aws:ecr:us-east-1:123456789012:repository/team/web"));
    assert_eq!(repo.image_tag_mutability(), Some(&ImageTagMutability::Mutable));

    let e = ecr.create_repository().repository_name("team/web").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "RepositoryAlreadyExistsException");
    for bad in ["Web", "a", "-web", "web//x"] {
        let e = ecr.create_repository().repository_name(bad).send().await.unwrap_err();
        assert_eq!(code(&e.into_service_error()), "InvalidParameterException", "{bad}");
    }
    let e = ecr.describe_repositories().repository_names("ghost").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "RepositoryNotFoundException");
    for n in ["a1", "b1", "c1"] {
        ecr.create_repository().repository_name(n).send().await.unwrap();
    }
    let first = ecr.describe_repositories().max_results(3).send().await.unwrap();
    assert_eq!(first.repositories().len(), 3);
    let rest = ecr.describe_repositories().next_token(first.next_token().unwrap()).send().await.unwrap();
    let names: Vec<_> =
        first.repositories().iter().chain(rest.repositories()).filter_map(|r| r.repository_name()).collect();
    assert_eq!(names, ["a1", "b1", "c1", "team/web"]);
    assert!(rest.next_token().is_none());

    let tags = ecr.list_tags_for_resource().resource_arn(repo.repository_arn().unwrap()).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);

    let auth = ecr.get_authorization_token().send().await.unwrap();
    let data = &auth.authorization_data()[0];
    let decoded = base64::engine::general_purpose::STANDARD.decode(data.authorization_token().unwrap()).unwrap();
    assert!(String::from_utf8(decoded).unwrap().starts_with("AWS:"));
    let ttl = data.expires_at().unwrap().secs()
        - std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((12 * 3600 - 60..=12 * 3600).contains(&ttl), "tokens last 12 hours, got {ttl}s");
    assert_eq!(data.proxy_endpoint(), Some(format!("http://{}", server.addr).as_str()));

    ecr.delete_repository().repository_name("a1").send().await.unwrap();
    let e = ecr.delete_repository().repository_name("a1").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "RepositoryNotFoundException");
}

#[tokio::test]
async fn images_list_describe_get_put_and_delete() {
    let server = TestServer::start().await;
    let ecr = server.ecr("us-east-1");
    ecr.create_repository().repository_name("web").send().await.unwrap();
    let registry = RegistryClient::login(server.addr, &ecr).await;
    let (d1, m1) = registry.push_image("web", "v1", b"first layer").await;
    let (d2, _) = registry.push_image("web", "v2", b"second layer!").await;
    // Untag v2 over the registry API: d2 stays, untagged.
    registry.send(Method::DELETE, "/v2/web/manifests/v2", &[], Vec::new()).await;

    let tagged = ecr
        .list_images()
        .repository_name("web")
        .filter(aws_sdk_ecr::types::ListImagesFilter::builder().tag_status(TagStatus::Tagged).build())
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.image_ids().len(), 1);
    assert_eq!(tagged.image_ids()[0].image_tag(), Some("v1"));
    let untagged = ecr
        .list_images()
        .repository_name("web")
        .filter(aws_sdk_ecr::types::ListImagesFilter::builder().tag_status(TagStatus::Untagged).build())
        .send()
        .await
        .unwrap();
    assert_eq!(untagged.image_ids()[0].image_digest(), Some(d2.as_str()));

    let details = ecr.describe_images().repository_name("web").image_ids(tag("v1")).send().await.unwrap();
    let d = &details.image_details()[0];
    assert_eq!(d.image_digest(), Some(d1.as_str()));
    assert_eq!(d.image_tags(), ["v1"]);
    assert_eq!(d.image_size_in_bytes(), Some(2 + "first layer".len() as i64));
    assert_eq!(d.image_manifest_media_type(), Some("application/vnd.oci.image.manifest.v1+json"));
    assert!(d.image_pushed_at().is_some());
    let e = ecr.describe_images().repository_name("web").image_ids(tag("nope")).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ImageNotFoundException");

    let got =
        ecr.batch_get_image().repository_name("web").image_ids(tag("v1")).image_ids(tag("nope")).send().await.unwrap();
    assert_eq!(got.images()[0].image_manifest(), Some(String::from_utf8(m1.clone()).unwrap().as_str()));
    assert_eq!(got.failures()[0].failure_code().map(|c| c.as_str()), Some("ImageNotFound"));

    // PutImage re-tags an existing manifest; the same again is refused.
    let manifest = String::from_utf8(m1.clone()).unwrap();
    let put =
        ecr.put_image().repository_name("web").image_manifest(&manifest).image_tag("stable").send().await.unwrap();
    assert_eq!(put.image().unwrap().image_id().unwrap().image_digest(), Some(d1.as_str()));
    let e =
        ecr.put_image().repository_name("web").image_manifest(&manifest).image_tag("stable").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ImageAlreadyExistsException");
    let missing = String::from_utf8(image_manifest(&digest_of(b"{}"), 2, &[(&digest_of(b"nowhere"), 7)])).unwrap();
    let e = ecr.put_image().repository_name("web").image_manifest(missing).image_tag("x").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "LayersNotFoundException");
    let e =
        ecr.put_image().repository_name("web").image_manifest(&manifest).image_digest(&d2).send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ImageDigestDoesNotMatchException");

    // BatchDeleteImage: a tag that is not the last leaves the image; the last takes it.
    let out = ecr
        .batch_delete_image()
        .repository_name("web")
        .image_ids(tag("v1"))
        .image_ids(tag("ghost"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.image_ids().len(), 1);
    assert_eq!(out.failures()[0].failure_code().map(|c| c.as_str()), Some("ImageNotFound"));
    assert_eq!(ecr.describe_images().repository_name("web").send().await.unwrap().image_details().len(), 2);
    ecr.batch_delete_image().repository_name("web").image_ids(tag("stable")).send().await.unwrap();
    let left = ecr.describe_images().repository_name("web").send().await.unwrap();
    assert_eq!(left.image_details().len(), 1);
    assert_eq!(left.image_details()[0].image_digest(), Some(d2.as_str()));

    let e = ecr.delete_repository().repository_name("web").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "RepositoryNotEmptyException");
    ecr.batch_delete_image().repository_name("web").image_ids(digest(&d2)).send().await.unwrap();

    // Nothing references the layers now: the collector removes their files.
    let layer = digest_of(b"second layer!");
    wait_for("unreferenced blobs to be collected", Duration::from_secs(10), async || {
        if server.registry.blob_stored(&layer) {
            Err("still stored".to_string())
        } else {
            Ok(())
        }
    })
    .await;
    ecr.delete_repository().repository_name("web").send().await.unwrap();
}

#[tokio::test]
async fn immutable_tags_refuse_overwrites() {
    let server = TestServer::start().await;
    let ecr = server.ecr("us-east-1");
    ecr.create_repository()
        .repository_name("web")
        .image_tag_mutability(ImageTagMutability::Immutable)
        .send()
        .await
        .unwrap();
    let registry = RegistryClient::login(server.addr, &ecr).await;
    let (d1, m1) = registry.push_image("web", "v1", b"one").await;
    // Pushing the same manifest under the same tag is fine; a different one is not.
    let r = registry
        .send(
            Method::PUT,
            "/v2/web/manifests/v1",
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            m1,
        )
        .await;
    assert_eq!(r.status, 201);
    let layer = registry.push_blob("web", b"two").await;
    let other = image_manifest(&digest_of(b"{}"), 2, &[(&layer, 3)]);
    let r = registry
        .send(
            Method::PUT,
            "/v2/web/manifests/v1",
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            other.clone(),
        )
        .await;
    assert_eq!(r.error_code().as_deref(), Some("TAG_INVALID"));
    let e = ecr
        .put_image()
        .repository_name("web")
        .image_manifest(String::from_utf8(other.clone()).unwrap())
        .image_tag("v1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "ImageTagAlreadyExistsException");
    let v1 = ecr.describe_images().repository_name("web").image_ids(tag("v1")).send().await.unwrap();
    assert_eq!(v1.image_details()[0].image_digest(), Some(d1.as_str()), "the tag still names the first image");

    ecr.put_image_tag_mutability()
        .repository_name("web")
        .image_tag_mutability(ImageTagMutability::Mutable)
        .send()
        .await
        .unwrap();
    let r = registry
        .send(
            Method::PUT,
            "/v2/web/manifests/v1",
            &[("content-type", "application/vnd.oci.image.manifest.v1+json")],
            other,
        )
        .await;
    assert_eq!(r.status, 201);
}

#[tokio::test]
async fn lifecycle_policies_preview_and_expire() {
    let server = TestServer::start().await;
    let ecr = server.ecr("us-east-1");
    ecr.create_repository().repository_name("web").send().await.unwrap();
    let registry = RegistryClient::login(server.addr, &ecr).await;
    let mut digests = Vec::new();
    for i in 0..4 {
        digests.push(registry.push_image("web", &format!("v{i}"), format!("layer {i}").as_bytes()).await.0);
    }
    let (untagged, _) = registry.push_image("web", "tmp", b"scratch").await;
    registry.send(Method::DELETE, "/v2/web/manifests/tmp", &[], Vec::new()).await;

    let e = ecr
        .put_lifecycle_policy()
        .repository_name("web")
        .lifecycle_policy_text(r#"{"rules":[]}"#.to_string() + &" ".repeat(100))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidParameterException");
    let e = ecr.get_lifecycle_policy().repository_name("web").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "LifecyclePolicyNotFoundException");

    let policy = serde_json::json!({"rules": [
        {"rulePriority": 1, "description": "keep two releases",
         "selection": {"tagStatus": "tagged", "tagPrefixList": ["v"], "countType": "imageCountMoreThan", "countNumber": 2},
         "action": {"type": "expire"}},
        {"rulePriority": 2, "description": "drop untagged",
         "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1000},
         "action": {"type": "expire"}}
    ]})
    .to_string();
    ecr.start_lifecycle_policy_preview().repository_name("web").lifecycle_policy_text(&policy).send().await.unwrap();
    let preview = ecr.get_lifecycle_policy_preview().repository_name("web").send().await.unwrap();
    let mut expiring: Vec<_> =
        preview.preview_results().iter().filter_map(|r| r.image_digest()).map(str::to_string).collect();
    expiring.sort();
    let mut want = vec![digests[0].clone(), digests[1].clone()];
    want.sort();
    assert_eq!(expiring, want, "the two oldest releases expire; the untagged one is within its count");
    assert_eq!(preview.summary().unwrap().expiring_image_total_count(), Some(2));
    let one = ecr.get_lifecycle_policy_preview().repository_name("web").image_ids(tag("v0")).send().await.unwrap();
    assert_eq!(one.preview_results().len(), 1);
    assert_eq!(one.preview_results()[0].image_digest(), Some(digests[0].as_str()));
    assert_eq!(one.preview_results()[0].image_tags(), ["v0"]);
    assert_eq!(
        ecr.describe_images().repository_name("web").send().await.unwrap().image_details().len(),
        5,
        "a preview expires nothing"
    );

    ecr.put_lifecycle_policy().repository_name("web").lifecycle_policy_text(&policy).send().await.unwrap();
    wait_for("the policy to expire the two oldest releases", Duration::from_secs(10), async || {
        let left = ecr.describe_images().repository_name("web").send().await.map_err(|e| e.to_string())?;
        let mut have: Vec<String> =
            left.image_details().iter().filter_map(|d| d.image_digest()).map(str::to_string).collect();
        have.sort();
        let mut want = vec![digests[2].clone(), digests[3].clone(), untagged.clone()];
        want.sort();
        if have == want {
            Ok(())
        } else {
            Err(format!("{have:?}"))
        }
    })
    .await;
    let got = ecr.get_lifecycle_policy().repository_name("web").send().await.unwrap();
    assert_eq!(got.lifecycle_policy_text(), Some(policy.as_str()));
    ecr.delete_lifecycle_policy().repository_name("web").send().await.unwrap();
    let e = ecr.get_lifecycle_policy().repository_name("web").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "LifecyclePolicyNotFoundException");
}

#[tokio::test]
async fn repository_policies_and_tags() {
    let server = TestServer::start().await;
    let ecr = server.ecr("us-east-1");
    let arn = ecr
        .create_repository()
        .repository_name("web")
        .send()
        .await
        .unwrap()
        .repository
        .unwrap()
        .repository_arn
        .unwrap();
    let e = ecr.set_repository_policy().repository_name("web").policy_text("not a policy").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidParameterException");
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage"]}]}"#;
    ecr.set_repository_policy().repository_name("web").policy_text(policy).send().await.unwrap();
    let got = ecr.get_repository_policy().repository_name("web").send().await.unwrap();
    assert_eq!(got.policy_text(), Some(policy));
    ecr.delete_repository_policy().repository_name("web").send().await.unwrap();
    let e = ecr.get_repository_policy().repository_name("web").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "RepositoryPolicyNotFoundException");

    ecr.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("a").build().unwrap())
        .send()
        .await
        .unwrap();
    ecr.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("b").build().unwrap())
        .send()
        .await
        .unwrap();
    let tags = ecr.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().iter().map(|t| (t.key(), t.value())).collect::<Vec<_>>(), [("team", "b")]);
    ecr.untag_resource().resource_arn(&arn).tag_keys("team").send().await.unwrap();
    assert!(ecr.list_tags_for_resource().resource_arn(&arn).send().await.unwrap().tags().is_empty());
    let e = ecr
        .tag_resource()
        .resource_arn("arn:aws:ecr:us-east-1:123456789012:repository/ghost")
        .tags(Tag::builder().key("k").value("v").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "RepositoryNotFoundException");
    let e = ecr
        .tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("aws:x").value("v").build().unwrap())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidTagParameterException");
}
