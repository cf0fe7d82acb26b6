//! Both sides of a call, laid out: the callee's SERVER span under its client span, starting and
//! ending a network leg inside it.
//!
//! A child module of trace synthesis, so it shares the builder's buffers and random stream (the
//! network legs are drawn from the trace's own stream, after the client's latency, and only for
//! a step with a call: a scenario without services draws exactly as before). What the SERVER span
//! is (its name, attributes, callee) is compiled once in [`crate::generate::services`]; this
//! only writes it. Keeping it in `trace.rs` was the alternative rejected: that file is the
//! layout every feature touches, and this one is self-contained.

use super::super::services::{CallPlan, ServerAttr, ServerName};
use super::*;

impl<'a, R: Rng> Builder<'a, R> {
    /// Pushes the SERVER span of `id`'s call under its client span `client`, failed as the
    /// client did; its times are filled in by the caller.
    pub(super) fn push_server(
        &mut self,
        id: NodeId,
        call: &CallPlan,
        client: u32,
        error: Option<usize>,
    ) -> u32 {
        let node = self.plan.node(id);
        let index = self.trace.spans.len() as u32;
        let span_id = self.span_id();
        let start = self.trace.attrs.len();
        let client_attrs = self.trace.spans[client as usize].attrs;
        let from_client = |attrs: &[Attr], key: Sym| {
            find(
                &attrs[client_attrs.0 as usize..client_attrs.1 as usize],
                key,
            )
        };
        for attr in &call.attrs {
            let (key, value) = match attr {
                ServerAttr::Plan(plan) => {
                    (plan.key(), self.attr_value(plan, error.is_some(), start))
                }
                ServerAttr::FromClient(key) => (*key, from_client(&self.trace.attrs, *key)),
            };
            if let Some(value) = value {
                self.trace.attrs.push(Attr { key, value });
            }
        }
        let name = match &call.name {
            ServerName::Fixed(name) => *name,
            ServerName::ByValue {
                key,
                values,
                names,
                fallback,
            } => from_client(&self.trace.attrs, *key)
                .and_then(|v| values.iter().position(|x| *x == v))
                .map_or(*fallback, |i| names[i]),
        };
        let error = error.map(|kind| {
            self.trace.attrs.push(Attr {
                key: self.plan.keys.error_type,
                value: AttrValue::Str(node.error.types[kind]),
            });
            (node.error.types[kind], node.error.messages[kind])
        });
        let end = self.trace.attrs.len() as u32;
        self.trace.spans.push(SpanRecord {
            node: id,
            attempt: false,
            span_type: node.span_type,
            kind: SpanKind::Server,
            name,
            span_id,
            parent: Some(client),
            start_ns: 0,
            end_ns: 0,
            error,
            attrs: (start as u32, end),
            links: (0, 0),
            server: true,
            resource: self
                .plan
                .services
                .resource(call.callee, &self.trace.trace_id),
        });
        self.offsets.push(0);
        index
    }

    /// The call of `id` into an instrumented service, if it makes one.
    pub(super) fn instrumented_call(&self, id: NodeId) -> Option<&'a CallPlan> {
        let plan: &'a Plan = self.plan;
        plan.node(id).call.as_ref().filter(|c| c.instrumented)
    }

    /// A SERVER span under client span `client`, whose own duration is what `latency` leaves
    /// after the network time drawn each way, stretched to hold `children` (blocks already
    /// under it); the client's duration, which holds it with the network time either side.
    pub(super) fn serve(
        &mut self,
        server: u32,
        children: (Vec<Block>, bool),
        latency: u64,
        out: u64,
        back: u64,
    ) -> u64 {
        let inner = latency.saturating_sub(out.saturating_add(back));
        let parallel = self
            .plan
            .node(self.trace.spans[server as usize].node)
            .parallel;
        let duration = self.place(children, inner, parallel);
        self.trace.spans[server as usize].end_ns = duration;
        self.offsets[server as usize] = out;
        out.saturating_add(duration).saturating_add(back)
    }

    /// One network leg of `call`.
    pub(super) fn network_ns(&mut self, call: &CallPlan) -> u64 {
        ms_to_ns(call.network.sample_ms(self.rng))
    }
}
