//! The metric store against a real SQLite file.

use berth_metrics::{ListFilter, Metrics, Point, Sample};
use berth_model::cloudwatch::{Dimension, SeriesKey, Statistic};

fn key(name: &str, service: &str) -> SeriesKey {
    SeriesKey::new("AWS/ECS", name, vec![Dimension::new("ServiceName", service), Dimension::new("ClusterName", "c")])
}

fn point(series: &SeriesKey, ts: i64, v: f64) -> Point {
    Point { series: series.clone(), unit: Some("Percent".into()), ts, sample: Sample::value(v, 1.0) }
}

#[test]
fn points_land_in_epoch_aligned_buckets_with_all_five_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let m = Metrics::open(dir.path()).unwrap();
    let k = key("CPUUtilization", "web");
    let points: Vec<Point> =
        [(1020, 10.0), (1021, 30.0), (1079, 20.0), (1080, 90.0)].iter().map(|(t, v)| point(&k, *t, *v)).collect();
    m.put("r", &points).unwrap();
    let b = m.buckets("r", &k, None, 960, 1200, 60).unwrap();
    assert_eq!(b.len(), 2, "{b:?}");
    assert_eq!(b[0].start, 1020);
    assert_eq!(b[0].stat(Statistic::SampleCount), 3.0);
    assert_eq!(b[0].stat(Statistic::Average), 20.0);
    assert_eq!((b[0].stat(Statistic::Minimum), b[0].stat(Statistic::Maximum)), (10.0, 30.0));
    assert_eq!(b[1].stat(Statistic::Sum), 90.0);
    // The end is exclusive; another unit or region sees nothing.
    assert_eq!(m.buckets("r", &k, None, 960, 1080, 60).unwrap().len(), 1);
    assert!(m.buckets("r", &k, Some("Count"), 960, 1200, 60).unwrap().is_empty());
    assert!(m.buckets("other", &k, None, 960, 1200, 60).unwrap().is_empty());
    // Dimensions are one identity in any order.
    let reordered = SeriesKey::new(
        "AWS/ECS",
        "CPUUtilization",
        vec![Dimension::new("ClusterName", "c"), Dimension::new("ServiceName", "web")],
    );
    assert_eq!(m.buckets("r", &reordered, Some("Percent"), 960, 1200, 60).unwrap().len(), 2);
}

#[test]
fn data_survives_a_reopen_and_rolls_up_without_changing_totals() {
    let dir = tempfile::tempdir().unwrap();
    let k = key("MemoryUtilization", "api");
    // Hour-aligned, so hour buckets hold the same seconds before and after the roll-up.
    let start = 1_000_800;
    {
        let m = Metrics::open(dir.path()).unwrap();
        let points: Vec<Point> = (0..600).map(|i| point(&k, start + i, (i % 7) as f64)).collect();
        m.put("r", &points).unwrap();
    }
    let m = Metrics::open(dir.path()).unwrap();
    let before = m.buckets("r", &k, None, start - 3600, start + 3600, 3600).unwrap();
    // Four hours later the per-second data has become per-minute data.
    m.sweep(start + 4 * 3600).unwrap();
    let after = m.buckets("r", &k, None, start - 3600, start + 3600, 3600).unwrap();
    assert_eq!(before, after, "rolling up keeps every statistic");
    let minutes = m.buckets("r", &k, None, start, start + 600, 1).unwrap();
    assert!(minutes.iter().all(|b| b.start % 60 == 0), "only minute buckets remain: {minutes:?}");
    // Past every tier's keep, the data is gone.
    m.sweep(start + 500 * 86400).unwrap();
    assert!(m.buckets("r", &k, None, 0, i64::MAX, 60).unwrap().is_empty());
}

#[test]
fn list_filters_by_namespace_name_dimensions_and_activity() {
    let dir = tempfile::tempdir().unwrap();
    let m = Metrics::open(dir.path()).unwrap();
    m.put("r", &[point(&key("CPUUtilization", "web"), 100, 1.0), point(&key("CPUUtilization", "api"), 5000, 1.0)])
        .unwrap();
    m.put("r", &[point(&SeriesKey::new("Shop", "Orders", vec![]), 5000, 3.0)]).unwrap();
    let all = m.list("r", &ListFilter::default()).unwrap();
    assert_eq!(all.len(), 3);
    let ecs = m.list("r", &ListFilter { namespace: Some("AWS/ECS"), ..Default::default() }).unwrap();
    assert_eq!(ecs.len(), 2);
    let dims = [("ServiceName".to_string(), Some("web".to_string()))];
    let web = m.list("r", &ListFilter { dimensions: &dims, ..Default::default() }).unwrap();
    assert_eq!(web.len(), 1);
    assert_eq!(web[0].key.dimensions[1], Dimension::new("ServiceName", "web"));
    let any_service = [("ServiceName".to_string(), None)];
    assert_eq!(m.list("r", &ListFilter { dimensions: &any_service, ..Default::default() }).unwrap().len(), 2);
    let recent = m.list("r", &ListFilter { active_since: Some(1000), ..Default::default() }).unwrap();
    assert_eq!(recent.len(), 2);
}

#[test]
fn past_the_series_limit_nothing_of_the_put_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let m = Metrics::open(dir.path()).unwrap().with_series_limit(2);
    m.put("r", &[point(&key("A", "x"), 1, 1.0), point(&key("B", "x"), 1, 1.0)]).unwrap();
    let err = m.put("r", &[point(&key("A", "x"), 2, 5.0), point(&key("C", "x"), 1, 1.0)]).unwrap_err();
    assert!(matches!(err, berth_metrics::MetricsError::Limit(_)), "{err}");
    // The first point of the refused put was not kept either.
    assert_eq!(m.buckets("r", &key("A", "x"), None, 0, 10, 10).unwrap()[0].stat(Statistic::Sum), 1.0);
    assert_eq!(m.list("r", &ListFilter::default()).unwrap().len(), 2);
    m.put("other", &[point(&key("C", "x"), 1, 1.0)]).unwrap();
}
