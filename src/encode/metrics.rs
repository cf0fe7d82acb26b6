//! Collected metrics to an OTLP `ExportMetricsServiceRequest`.
//!
//! The aggregator (`generate::metrics`) hands over plain structs; this turns them into the
//! official prost types, one `ResourceMetrics` per tenant with the same resource as that tenant's
//! spans, so metrics and traces of a tenant meet under one resource in any backend. Counters are
//! monotonic integer sums, histograms explicit-bucket histograms with min, max and exemplars.

use super::common::{ResourceTemplate, TenantRequest, scope};
use crate::generate::metrics::{
    Exemplar, InstrumentKind, MetricValue, MetricsExport, Point, PointData, Temporality,
};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    self as proto, AggregationTemporality, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, exemplar, metric, number_data_point,
};

/// The export requests of one collection, one per tenant.
pub fn metrics_requests(
    export: &MetricsExport,
    template: &ResourceTemplate,
) -> Vec<TenantRequest<ExportMetricsServiceRequest>> {
    let temporality = match export.temporality {
        Temporality::Cumulative => AggregationTemporality::Cumulative,
        Temporality::Delta => AggregationTemporality::Delta,
    } as i32;
    let scope = scope();
    let mut requests = Vec::with_capacity(export.tenants.len());
    for tenant in &export.tenants {
        let mut metrics = Vec::with_capacity(tenant.metrics.len());
        for m in &tenant.metrics {
            let instrument = &m.instrument;
            let data = match instrument.kind {
                InstrumentKind::Counter | InstrumentKind::DoubleCounter => {
                    metric::Data::Sum(proto::Sum {
                        data_points: m.points.iter().map(|p| number_point(export, p)).collect(),
                        aggregation_temporality: temporality,
                        is_monotonic: true,
                    })
                }
                InstrumentKind::Histogram(bounds) => metric::Data::Histogram(proto::Histogram {
                    data_points: m
                        .points
                        .iter()
                        .map(|p| histogram_point(export, bounds, p))
                        .collect(),
                    aggregation_temporality: temporality,
                }),
            };
            metrics.push(Metric {
                name: instrument.name.clone(),
                description: instrument.description.to_string(),
                unit: instrument.unit.to_string(),
                data: Some(data),
                ..Default::default()
            });
        }
        requests.push(TenantRequest {
            tenant: tenant.tenant.clone(),
            items: tenant.metrics.iter().map(|m| m.points.len() as u64).sum(),
            request: ExportMetricsServiceRequest {
                resource_metrics: vec![ResourceMetrics {
                    resource: Some(match &tenant.resource {
                        Some(service) => template.with_service(service).resource(&tenant.tenant),
                        None => template.resource(&tenant.tenant),
                    }),
                    schema_url: template.schema_url.clone(),
                    scope_metrics: vec![ScopeMetrics {
                        scope: Some(scope.clone()),
                        metrics,
                        schema_url: template.scope_schema_url.clone(),
                    }],
                }],
            },
        });
    }
    requests
}

fn number_point(export: &MetricsExport, point: &Point) -> NumberDataPoint {
    let value = match point.data {
        PointData::Sum(n) => number_data_point::Value::AsInt(n),
        PointData::DoubleSum(x) => number_data_point::Value::AsDouble(x),
        PointData::Histogram(_) => number_data_point::Value::AsInt(0),
    };
    NumberDataPoint {
        attributes: attributes(point),
        start_time_unix_nano: export.start_ns,
        time_unix_nano: export.time_ns,
        value: Some(value),
        ..Default::default()
    }
}

fn histogram_point(export: &MetricsExport, bounds: &[f64], point: &Point) -> HistogramDataPoint {
    let PointData::Histogram(h) = &point.data else {
        return HistogramDataPoint::default();
    };
    HistogramDataPoint {
        attributes: attributes(point),
        start_time_unix_nano: export.start_ns,
        time_unix_nano: export.time_ns,
        count: h.count,
        sum: Some(h.sum),
        bucket_counts: h.bucket_counts.clone(),
        explicit_bounds: bounds.to_vec(),
        exemplars: h.exemplars.iter().map(exemplar).collect(),
        min: (h.count > 0).then_some(h.min),
        max: (h.count > 0).then_some(h.max),
        ..Default::default()
    }
}

fn exemplar(e: &Exemplar) -> proto::Exemplar {
    proto::Exemplar {
        time_unix_nano: e.time_ns,
        span_id: e.span_id.to_vec(),
        trace_id: e.trace_id.to_vec(),
        value: Some(exemplar::Value::AsDouble(e.value)),
        ..Default::default()
    }
}

fn attributes(point: &Point) -> Vec<KeyValue> {
    use any_value::Value as V;
    point
        .attributes
        .iter()
        .map(|(key, value)| KeyValue {
            key: key.clone(),
            value: Some(AnyValue {
                value: Some(match value {
                    MetricValue::Str(s) => V::StringValue(s.clone()),
                    MetricValue::Int(i) => V::IntValue(*i),
                    MetricValue::Bool(b) => V::BoolValue(*b),
                }),
            }),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::metrics::Aggregator;
    use crate::generate::testing;
    use prost::Message;

    #[test]
    fn a_collection_round_trips_with_one_resource_per_tenant() {
        let plan = testing::bundled("example_scenario");
        let mut agg = Aggregator::new("vendor", Temporality::Delta, 5);
        for trace in testing::traces(&plan, 4, 60) {
            agg.record(&plan, &trace);
        }
        let export = agg.collect(9).unwrap();
        let template = ResourceTemplate {
            attributes: vec![("service.name".into(), "svc".into())],
            tenant_keys: vec!["tenant.id".into()],
            schema_url: String::new(),
            scope_schema_url: String::new(),
        };
        let requests = metrics_requests(&export, &template);
        assert_eq!(requests.len(), 2, "tenants t1 and t2");
        let mut points = 0;
        for TenantRequest {
            tenant,
            request,
            items,
        } in &requests
        {
            let decoded =
                ExportMetricsServiceRequest::decode(request.encode_to_vec().as_slice()).unwrap();
            assert_eq!(&decoded, request);
            assert_eq!(decoded.resource_metrics.len(), 1, "one tenant a request");
            let rm = &decoded.resource_metrics[0];
            assert!(format!("{:?}", rm.resource).contains(tenant.as_str()));
            let before = points;
            for m in &rm.scope_metrics[0].metrics {
                match m.data.as_ref().unwrap() {
                    metric::Data::Sum(s) => {
                        assert!(s.is_monotonic);
                        assert_eq!(
                            s.aggregation_temporality,
                            AggregationTemporality::Delta as i32
                        );
                        for p in &s.data_points {
                            assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (5, 9));
                        }
                        points += s.data_points.len();
                    }
                    metric::Data::Histogram(h) => {
                        for p in &h.data_points {
                            assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
                            assert_eq!(p.bucket_counts.iter().sum::<u64>(), p.count);
                            assert!(p.exemplars.iter().all(|e| e.trace_id.len() == 16));
                        }
                        points += h.data_points.len();
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            assert_eq!((points - before) as u64, *items);
        }
        assert_eq!(points, export.points);
    }
}
