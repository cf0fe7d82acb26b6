//! Services compiled: which resource each span goes out under, and what a call's SERVER span is.
//!
//! The plan gives each node a service (a small index) and, for a step with `remote:`, a
//! [`CallPlan`]: the callee, the network time drawn each way, the SERVER span's name and its
//! attributes, all interned once. A trace then picks one instance per service from its trace
//! id (no draw from the trace's random stream, so a scenario without services keeps its exact
//! stream) and stamps each span with the index of its resource in [`ServiceTable::resources`],
//! which the encoder turns into one pre-encoded resource each.
//!
//! Resolving services per span at encode time (looking names up in the scenario) was the
//! alternative rejected: the encoder must not know the scenario, and a span's resource is a
//! fact of the trace, like its parent.

use super::plan::{AttrPlan, LatencySampler, Plan};
use super::symbols::{AttrValue, Generated, Sym};
use crate::scenario::{Literal, Scenario, Service, SpanType, Step};

/// One resource a span can go out under: an instance of a declared service. The run's resource
/// supplies every attribute these do not replace (and the tenant's are added per tenant).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ServiceResource {
    pub name: String,
    pub version: Option<String>,
    pub instance: String,
    pub attributes: Vec<(String, String)>,
}

/// One service of a plan.
#[derive(Clone, Debug)]
pub(crate) struct PlanService {
    pub name: Sym,
    /// Its first resource in [`ServiceTable::resources`]; its instances follow.
    pub first: u32,
    pub instances: u32,
    pub instrumented: bool,
}

/// The services of a plan. Empty when the scenario declares none: every span then goes out
/// under the run's own resource, exactly as before services existed.
#[derive(Clone, Debug, Default)]
pub struct ServiceTable {
    pub(crate) services: Vec<PlanService>,
    pub resources: Vec<ServiceResource>,
}

impl ServiceTable {
    pub fn new(declared: &[Service], intern: &mut impl FnMut(&str) -> Sym) -> ServiceTable {
        let mut table = ServiceTable::default();
        for service in declared {
            table.services.push(PlanService {
                name: intern(&service.name),
                first: table.resources.len() as u32,
                instances: service.instances.max(1),
                instrumented: service.instrumented,
            });
            for i in 0..service.instances.max(1) {
                table.resources.push(ServiceResource {
                    name: service.name.clone(),
                    version: service.version.clone(),
                    instance: format!("{}-{i}", service.name),
                    attributes: service.attributes.clone(),
                });
            }
        }
        table
    }

    /// Whether the scenario declared services (else every span has the run's resource).
    pub fn is_declared(&self) -> bool {
        !self.services.is_empty()
    }

    /// The index of a declared service by name.
    pub fn index(&self, name: &str) -> Option<u16> {
        self.resources
            .iter()
            .position(|r| r.name == name)
            .and_then(|r| self.service_of_resource(r as u32))
    }

    /// The resource of `service` in the trace `trace_id`: one of its instances, the same for
    /// every span of the service in the trace, chosen from the trace id alone.
    pub fn resource(&self, service: u16, trace_id: &[u8; 16]) -> u32 {
        let Some(s) = self.services.get(service as usize) else {
            return 0;
        };
        if s.instances <= 1 {
            return s.first;
        }
        let mut h = u64::from_le_bytes(trace_id[..8].try_into().expect("eight bytes"));
        h ^= (service as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^= h >> 31;
        s.first + (h % s.instances as u64) as u32
    }

    /// The `service.name` of a service.
    pub(crate) fn name(&self, service: u16) -> Option<Sym> {
        self.services.get(service as usize).map(|s| s.name)
    }

    /// The resource of every service's name, by resource index (for `check`).
    pub(crate) fn service_of_resource(&self, resource: u32) -> Option<u16> {
        self.services
            .iter()
            .rposition(|s| s.first <= resource)
            .map(|i| i as u16)
    }
}

/// The SERVER span's name: fixed, or following one attribute of the client span.
pub(crate) enum ServerName {
    Fixed(Sym),
    /// `names[i]` when the client's `key` is `values[i]`, else `fallback`.
    ByValue {
        key: Sym,
        values: Vec<AttrValue>,
        names: Vec<Sym>,
        fallback: Sym,
    },
}

/// One attribute of a SERVER span.
pub(crate) enum ServerAttr {
    /// Planned as any span attribute.
    Plan(AttrPlan),
    /// The client span's value of the same key (the tool, the agent), when it has one.
    FromClient(Sym),
}

/// A step's call into another service, compiled.
pub(crate) struct CallPlan {
    pub callee: u16,
    /// Whether the callee sends its SERVER span (`instrumented`).
    pub instrumented: bool,
    pub network: LatencySampler,
    pub name: ServerName,
    pub attrs: Vec<ServerAttr>,
}

/// The port a call's `server.port` says when the step writes none.
pub const DEFAULT_PORT: i64 = 443;

/// The conventional name and attributes of the SERVER side of a call made by `step`.
fn server_convention(step: &Step, client_name: &str) -> (String, Vec<(&'static str, Literal)>) {
    let s = |v: &str| Literal::Str(v.to_string());
    match step.span_type {
        SpanType::McpToolExecute | SpanType::McpToolExecuteAttempt => (
            "tools/call {gen_ai.tool.name}".into(),
            vec![
                ("mcp.method.name", s("tools/call")),
                ("gen_ai.operation.name", s("execute_tool")),
                ("mcp.protocol.version", s("2025-06-18")),
                ("network.transport", s("tcp")),
                ("network.protocol.name", s("http")),
                ("network.protocol.version", s("2")),
            ],
        ),
        SpanType::A2aCall => (
            "invoke_agent {gen_ai.agent.name}".into(),
            vec![("gen_ai.operation.name", s("invoke_agent"))],
        ),
        _ => (client_name.to_string(), Vec::new()),
    }
}

/// Keys a SERVER span copies from its client span, where the client has them.
const FROM_CLIENT: [&str; 4] = [
    "gen_ai.tool.name",
    "gen_ai.agent.name",
    "jsonrpc.request.id",
    "rpc.method",
];

/// Compiles the call `step` makes from service `caller` into `callee`. `client` is the client
/// span's planned attributes, whose constants fill the server name's placeholders.
fn compile_call(
    plan: &mut Plan,
    step: &Step,
    caller: u16,
    callee: u16,
    client_name: &str,
    client: &[(String, ClientValue)],
) -> Option<CallPlan> {
    let remote = step.remote.as_ref()?;
    let (default_name, constants) = server_convention(step, client_name);
    let template = remote.name.clone().unwrap_or(default_name);
    let name = server_name(plan, &template, client);
    let services = &plan.services;
    let callee_name = services.services.get(callee as usize)?.name;
    let caller_name = services.name(caller);
    let instrumented = services.services[callee as usize].instrumented;
    let mut attrs = Vec::new();
    let push = |attrs: &mut Vec<ServerAttr>, key: &str, value: AttrValue, p: &mut Plan| {
        let key = p.intern(key);
        attrs.push(ServerAttr::Plan(AttrPlan::Constant { key, value }));
    };
    let tenant = plan.intern("tenant.id");
    attrs.push(ServerAttr::Plan(AttrPlan::Generated {
        key: tenant,
        what: Generated::Tenant,
    }));
    for (key, value) in constants {
        let value = plan.constant(&value);
        push(&mut attrs, key, value, plan);
    }
    for key in FROM_CLIENT {
        if client.iter().any(|(k, _)| k == key) {
            attrs.push(ServerAttr::FromClient(plan.intern(key)));
        }
    }
    if step.span_type == SpanType::McpToolExecute
        && !client.iter().any(|(k, _)| k == "jsonrpc.request.id")
    {
        let key = plan.intern("jsonrpc.request.id");
        let prefix = plan.intern("");
        attrs.push(ServerAttr::Plan(AttrPlan::Generated {
            key,
            what: Generated::RandomId(prefix),
        }));
    }
    push(
        &mut attrs,
        "server.address",
        AttrValue::Str(callee_name),
        plan,
    );
    push(
        &mut attrs,
        "server.port",
        AttrValue::Int(DEFAULT_PORT),
        plan,
    );
    if let Some(caller) = caller_name {
        push(&mut attrs, "client.address", AttrValue::Str(caller), plan);
    }
    for a in &remote.attributes {
        let written = plan.written(&a.key, &a.value);
        let key = written.key();
        attrs.retain(|x| match x {
            ServerAttr::Plan(p) => p.key() != key,
            ServerAttr::FromClient(k) => *k != key,
        });
        attrs.push(ServerAttr::Plan(written));
    }
    Some(CallPlan {
        callee,
        instrumented,
        network: LatencySampler::new(&remote.network),
        name,
        attrs,
    })
}

/// What a client span's attribute is, for the server side of its call.
#[derive(Clone)]
enum ClientValue {
    Constant(AttrValue),
    /// Drawn from a list of values.
    Choices(Sym, Vec<AttrValue>),
    Other,
}

/// The server name of `template`: placeholders filled from the client's constants; one
/// placeholder whose value is drawn from a list gets a name per value.
fn server_name(plan: &mut Plan, template: &str, client: &[(String, ClientValue)]) -> ServerName {
    let mut fixed = template.to_string();
    let mut varying: Option<(Sym, String, Vec<AttrValue>)> = None;
    for (key, value) in client {
        let placeholder = format!("{{{key}}}");
        if !fixed.contains(&placeholder) {
            continue;
        }
        match value {
            ClientValue::Constant(value) => {
                if let Some(text) = text_of(plan, *value) {
                    fixed = fixed.replace(&placeholder, &text);
                }
            }
            ClientValue::Choices(k, values) if varying.is_none() => {
                varying = Some((*k, placeholder, values.clone()));
            }
            _ => {}
        }
    }
    let fallback = plan.intern(&strip_placeholders(&fixed));
    let Some((key, placeholder, values)) = varying else {
        return ServerName::Fixed(fallback);
    };
    let names = values
        .iter()
        .map(|v| {
            let text = text_of(plan, *v).unwrap_or_default();
            plan.intern(&strip_placeholders(&fixed.replace(&placeholder, &text)))
        })
        .collect();
    ServerName::ByValue {
        key,
        values,
        names,
        fallback,
    }
}

/// The text of a planned constant (the interner keeps the strings; numbers print as numbers).
fn text_of(plan: &Plan, value: AttrValue) -> Option<String> {
    match value {
        AttrValue::Str(s) => Some(plan.str(s).to_string()),
        AttrValue::Int(i) => Some(i.to_string()),
        AttrValue::Bool(b) => Some(b.to_string()),
        AttrValue::Double(d) => Some(d.to_string()),
        _ => None,
    }
}

/// `text` without the `{…}` placeholders nothing filled, and without the spaces they leave.
pub fn strip_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            c if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Plan {
    /// Gives each node its service and compiles each call (after every node is in place, so
    /// that node ids follow the steps' pre-order). Nothing changes for a scenario that
    /// declares no services.
    pub(crate) fn compile_services(&mut self, scenario: &Scenario) {
        if !self.services.is_declared() {
            return;
        }
        let steps = scenario.root.walk();
        let services = step_services(scenario);
        for (i, (step, service)) in steps.iter().zip(services).enumerate() {
            self.nodes[i].service = service;
            let Some(remote) = &step.remote else { continue };
            let Some(callee) = self.services.index(&remote.service) else {
                continue;
            };
            let client = self.client_values(i);
            let client_name = self.str(self.nodes[i].name.pick(&[])).to_string();
            self.nodes[i].call = compile_call(self, step, service, callee, &client_name, &client);
            self.nodes[i].kind = crate::conventions::SpanKind::Client;
            self.add_client_attributes(i, callee);
        }
    }

    /// The client span's attributes as the server side reads them.
    fn client_values(&self, node: usize) -> Vec<(String, ClientValue)> {
        self.nodes[node]
            .attrs
            .iter()
            .map(|a| {
                let value = match a {
                    AttrPlan::Constant { value, .. } => ClientValue::Constant(*value),
                    AttrPlan::Sampled { key, choices, .. } if !choices.is_empty() => {
                        ClientValue::Choices(*key, choices.clone())
                    }
                    _ => ClientValue::Other,
                };
                (self.str(a.key()).to_string(), value)
            })
            .collect()
    }

    /// `server.address` and `server.port` on the client span (and its MCP attempts), unless
    /// the step writes them.
    fn add_client_attributes(&mut self, node: usize, callee: u16) {
        let address = self.intern("server.address");
        let port = self.intern("server.port");
        let Some(callee) = self.services.name(callee) else {
            return;
        };
        let node = &mut self.nodes[node];
        for attrs in [&mut node.attrs, &mut node.attempt_attrs] {
            if attrs.is_empty() {
                continue;
            }
            // Copies and sums stay last, after what they read.
            let at = attrs
                .iter()
                .position(|a| !a.sources().is_empty())
                .unwrap_or(attrs.len());
            if !attrs.iter().any(|a| a.key() == port) {
                let value = AttrValue::Int(DEFAULT_PORT);
                attrs.insert(at, AttrPlan::Constant { key: port, value });
            }
            if !attrs.iter().any(|a| a.key() == address) {
                let value = AttrValue::Str(callee);
                attrs.insert(
                    at,
                    AttrPlan::Constant {
                        key: address,
                        value,
                    },
                );
            }
        }
    }
}

/// Each step's service, in pre-order: its own `service`, else the one it inherits (the callee
/// for the children of an instrumented call other than an MCP tool's, whose children follow its
/// attempts in the caller), the root's default being the first declared service.
pub fn step_services(scenario: &Scenario) -> Vec<u16> {
    fn visit(scenario: &Scenario, step: &Step, inherited: u16, out: &mut Vec<u16>) {
        let index = |name: &str| {
            scenario
                .services
                .iter()
                .position(|s| s.name == name)
                .map(|i| i as u16)
        };
        let own = step.service.as_deref().and_then(index).unwrap_or(inherited);
        out.push(own);
        let callee = step.remote.as_ref().and_then(|r| {
            let i = index(&r.service)?;
            let instrumented = scenario.services[i as usize].instrumented;
            (instrumented && step.span_type != SpanType::McpToolExecute).then_some(i)
        });
        for child in &step.children {
            visit(scenario, child, callee.unwrap_or(own), out);
        }
    }
    let mut out = Vec::new();
    visit(scenario, &scenario.root, 0, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLS: &str = "services:\n  agent: {version: '2.0'}\n  search: {instances: 2}\n  helper: {}\n  db: {instrumented: false}\nroot:\n  type: vendor.a2a.orchestrate\n  children:\n    - type: vendor.mcp.tool.execute\n      attributes: {gen_ai.tool.name: {distribution: categorical, values: [web_search, fetch]}}\n      remote: {service: search, network_ms: 2}\n    - type: vendor.a2a.call\n      attributes: {a2a.target.agent: helper}\n      remote: {service: helper}\n      children:\n        - type: vendor.llm.call\n    - type: vendor.rag.retrieve\n      remote: {service: db}\n";

    #[test]
    fn calls_give_a_server_span_inside_each_client_span_in_the_callees_resource() {
        let plan = crate::generate::testing::plan(CALLS);
        let name = |r: u32| plan.services.resources[r as usize].name.as_str();
        for trace in crate::generate::testing::traces(&plan, 3, 200) {
            let mut servers = 0;
            for span in &trace.spans {
                if span.span_type == SpanType::LlmCall {
                    // The remote agent's own work runs in its service, under its SERVER span.
                    assert_eq!(name(span.resource), "helper");
                    let parent = &trace.spans[span.parent.unwrap() as usize];
                    assert!(parent.server);
                }
                if !span.server {
                    continue;
                }
                servers += 1;
                let client =
                    &trace.spans[span.parent.expect("a server span has its client") as usize];
                assert_eq!(client.kind, crate::conventions::SpanKind::Client);
                assert!(client.start_ns <= span.start_ns && span.end_ns <= client.end_ns);
                assert_eq!(span.kind, crate::conventions::SpanKind::Server);
                assert_eq!(name(client.resource), "agent");
                let callee = name(span.resource);
                let span_name = plan.str(span.name);
                match client.span_type {
                    SpanType::McpToolExecuteAttempt | SpanType::McpToolExecute => {
                        assert_eq!(callee, "search");
                        assert!(client.attempt, "MCP calls are made by each attempt");
                        assert!(
                            span_name == "tools/call web_search" || span_name == "tools/call fetch",
                            "{span_name}"
                        );
                        let tool = |s: &crate::generate::SpanRecord| {
                            trace
                                .attrs_of(s)
                                .iter()
                                .find(|a| plan.str(a.key) == "gen_ai.tool.name")
                                .map(|a| a.value)
                        };
                        assert_eq!(tool(span), tool(client));
                        assert!(span_name.ends_with(match tool(span) {
                            Some(AttrValue::Str(s)) => plan.str(s),
                            _ => "?",
                        }));
                    }
                    SpanType::A2aCall => {
                        assert_eq!(callee, "helper");
                        assert_eq!(span_name, "invoke_agent helper");
                    }
                    other => panic!("a server span under {other:?}"),
                }
            }
            assert!(servers >= 2, "each trace calls search and helper");
            // The uninstrumented database leaves its client span alone.
            let rag = trace
                .spans
                .iter()
                .position(|s| s.span_type == SpanType::RagRetrieve)
                .unwrap() as u32;
            assert!(trace.spans.iter().all(|s| s.parent != Some(rag)));
            let rag = &trace.spans[rag as usize];
            assert_eq!(rag.kind, crate::conventions::SpanKind::Client);
            let address = trace
                .attrs_of(rag)
                .iter()
                .find(|a| plan.str(a.key) == "server.address")
                .map(|a| a.value);
            assert_eq!(
                address.map(|v| matches!(v, AttrValue::Str(s) if plan.str(s) == "db")),
                Some(true)
            );
        }
    }

    #[test]
    fn the_static_worst_case_counts_the_server_spans() {
        let text = "services: {a: {}, b: {}}\nroot:\n  children:\n    - type: vendor.mcp.tool.execute\n      count: 2\n      retry: {max_attempts: 3, force_initial_failure: true, success_rate_per_attempt: [0]}\n      remote: {service: b}\n    - type: vendor.a2a.call\n      remote: {service: b}\n      children: [{type: vendor.llm.call}]\n";
        let options = crate::scenario::LoadOptions::default();
        let scenario = crate::scenario::decode(text, "t.yaml", "t", &options)
            .unwrap()
            .0;
        // Root; 2 × (execute + 3 × (attempt + server)); a2a.call + server + llm.call.
        assert_eq!(
            crate::scenario::worst_case_spans(&scenario.root),
            1 + 2 * 7 + 3
        );
        let plan = crate::generate::testing::plan(text);
        let most = crate::generate::testing::traces(&plan, 1, 50)
            .iter()
            .map(|t| t.spans.len())
            .max();
        assert_eq!(
            most,
            Some(18),
            "every attempt fails: the worst case is reached"
        );
        assert_eq!(crate::check::depth(&scenario.root), 4);
    }

    #[test]
    fn unfilled_placeholders_leave_no_trace() {
        assert_eq!(
            strip_placeholders("tools/call {gen_ai.tool.name}"),
            "tools/call"
        );
        assert_eq!(strip_placeholders("SELECT {a} FROM {b}"), "SELECT FROM");
    }

    #[test]
    fn a_trace_meets_one_instance_of_each_service_spread_evenly() {
        let declared = vec![
            Service {
                instances: 3,
                ..Service::named("a")
            },
            Service::named("b"),
        ];
        let mut strings = Vec::new();
        let table = ServiceTable::new(&declared, &mut |s: &str| {
            strings.push(s.to_string());
            Sym(strings.len() as u32 - 1)
        });
        assert_eq!(table.resources.len(), 4);
        assert_eq!(table.resources[2].instance, "a-2");
        let mut counts = [0u32; 3];
        for i in 0..3000u64 {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&i.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
            let r = table.resource(0, &id);
            assert_eq!(r, table.resource(0, &id), "stable within a trace");
            counts[r as usize] += 1;
            assert_eq!(table.resource(1, &id), 3);
        }
        // Each instance expects 1000 of 3000: 5 standard deviations is about 130.
        assert!(counts.iter().all(|c| c.abs_diff(1000) < 130), "{counts:?}");
    }
}
