//! A serde `Deserializer` over spanned YAML [`Node`]s.
//!
//! Why not serde_yaml: it stops at the first error and forgets positions. Here
//! - unknown fields are reported (with "did you mean") and skipped, so one typo never hides other errors;
//! - every error carries the span of the node it is about;
//! - [`Item<T>`] recovers from an error inside one list element, so every element is checked;
//! - [`Spanned<T>`] keeps the position of a value for later semantic errors (duplicates, dangling references);
//! - scalars keep their source text, so money and decimals are read from what was written, never via f64;
//! - enum values are matched case-insensitively (`OUTCOME_TRAFFIC` = `outcome_traffic`).
//!
//! The errors of recovered elements go to a per-thread sink that [`collect`] drains.

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::error::{did_you_mean, Code};
use super::yaml::{Node, NodeKind, Span, Style};

/// A deserialisation error, positioned once it has passed through the node it is about.
#[derive(Clone, Debug)]
pub struct DeError {
    pub code: Code,
    pub message: String,
    pub hint: Option<String>,
    pub span: Option<Span>,
}

impl DeError {
    /// An error of this code (positioned with [`DeError::at`]).
    pub fn with_code(code: Code, message: impl Into<String>) -> Self {
        Self::new(code, message)
    }
    fn new(code: Code, message: impl Into<String>) -> Self {
        DeError {
            code,
            message: message.into(),
            hint: None,
            span: None,
        }
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
    pub fn at(mut self, span: Span) -> Self {
        if self.span.is_none() {
            self.span = Some(span);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(Code::InvalidValue, msg.to_string())
    }
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError::new(Code::InvalidType, format!("expected {exp}, found {unexp}"))
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut e = DeError::new(Code::InvalidValue, format!("invalid value `{variant}`"));
        let allowed = expected.join(", ");
        e = match did_you_mean(variant, expected.iter().copied()) {
            Some(s) => e.hint(format!("did you mean `{s}`? allowed values: {allowed}")),
            None => e.hint(format!("allowed values: {allowed}")),
        };
        e
    }
    fn missing_field(field: &'static str) -> Self {
        DeError::new(Code::MissingField, format!("missing required field `{field}`"))
            .hint(format!("add `{field}: …` here"))
    }
    fn duplicate_field(field: &'static str) -> Self {
        DeError::new(Code::DuplicateKey, format!("field `{field}` is given twice"))
    }
}

thread_local! {
    static SINK: RefCell<Vec<DeError>> = const { RefCell::new(Vec::new()) };
    static LAST: RefCell<Option<DeError>> = const { RefCell::new(None) };
    static HOOK: RefCell<Option<CaptureHook>> = const { RefCell::new(None) };
    static CAPTURED: RefCell<Option<Box<dyn std::any::Any + Send>>> = const { RefCell::new(None) };
    static CAPTURING: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
}

/// What a [`Captured`] value is made of, given its node: the loader decides (a campaign is deserialized as the
/// type of its account's platform, which only the loader knows).
/// The hook is told what is being read (`"campaign"`, `"lookalike_audience"`).
pub type CaptureHook = std::rc::Rc<dyn Fn(&Node, &'static str) -> Box<dyn std::any::Any + Send>>;

/// Run `f` with `hook` making every value deserialized through [`capture`] on this thread.
pub fn with_capture_hook<R>(hook: CaptureHook, f: impl FnOnce() -> R) -> R {
    let before = HOOK.with(|h| h.borrow_mut().replace(hook));
    let out = f();
    HOOK.with(|h| *h.borrow_mut() = before);
    out
}

/// Deserialize a value made by the capture hook from its node (`None` when no hook is set: nothing is checked);
/// `what` tells the hook what the node is.
pub fn capture<'de, D: Deserializer<'de>>(
    d: D,
    what: &'static str,
) -> Result<Option<Box<dyn std::any::Any + Send>>, D::Error> {
    CAPTURING.with(|c| c.set(what));
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Box<dyn std::any::Any + Send>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a captured node")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(CAPTURED.with(|c| c.borrow_mut().take()))
        }
    }
    d.deserialize_newtype_struct(CAPTURE, V)
}

/// Errors kept per document; past this, more are dropped (the loader caps its output anyway).
const MAX_SINK: usize = 2000;

fn report(e: DeError) {
    SINK.with(|s| {
        let mut s = s.borrow_mut();
        if s.len() < MAX_SINK {
            s.push(e);
        }
    });
}

/// Record an error found beside the deserializer (the loader's own checks of a node), with the others.
pub fn record(e: DeError) {
    report(e)
}

fn sink_full() -> bool {
    SINK.with(|s| s.borrow().len() >= MAX_SINK)
}

/// Drain the errors recorded on this thread (unknown fields, recovered list elements).
pub fn collect() -> Vec<DeError> {
    LAST.with(|l| l.borrow_mut().take());
    SINK.with(|s| std::mem::take(&mut *s.borrow_mut()))
}

/// Deserialize a whole document. Recorded and returned errors are all in [`collect`] afterwards.
pub fn from_node<'de, T: Deserialize<'de>>(node: &Node) -> Option<T> {
    match T::deserialize(NodeDe(node)) {
        Ok(v) => Some(v),
        Err(e) => {
            report(e.at(node.span));
            None
        }
    }
}

const SPANNED: &str = "$adsctl::Spanned";
const ITEM: &str = "$adsctl::Item";
const CAPTURE: &str = "$adsctl::Capture";

/// The deserializer for one node.
#[derive(Clone, Copy)]
pub struct NodeDe<'a>(pub &'a Node);

impl<'a> NodeDe<'a> {
    fn text(&self) -> Option<(&'a str, Style)> {
        match &self.0.kind {
            NodeKind::Scalar { text, style } => Some((text.as_str(), *style)),
            _ => None,
        }
    }
    fn fail<T>(&self, exp: &dyn de::Expected) -> Result<T, DeError> {
        let found = match &self.0.kind {
            NodeKind::Scalar { text, .. } if !self.0.is_null() => format!("`{text}`"),
            _ => self.0.type_name().to_string(),
        };
        let want = exp.to_string();
        let hint = if want.starts_with("a list") {
            "write a list: `[a, b]`, or one `- item` per line"
        } else if want.starts_with("a mapping") {
            "write `key: value` pairs, indented under this key"
        } else if want.starts_with("true or false") {
            "write `true` or `false`"
        } else if want.contains("integer") {
            "write a whole number"
        } else if want.starts_with("a string") {
            "write text (quote it if it looks like a number or contains `: `)"
        } else {
            "see docs/spec.md for this field"
        };
        Err(
            DeError::new(Code::InvalidType, format!("expected {exp}, found {found}"))
                .hint(hint)
                .at(self.0.span),
        )
    }
    fn int<T: std::str::FromStr>(&self, what: &'static str) -> Result<T, DeError> {
        match self.text() {
            Some((t, _)) if !self.0.is_null() => t.trim().replace('_', "").parse::<T>().map_err(|_| {
                DeError::new(Code::InvalidType, format!("expected {what}, found `{t}`"))
                    .hint("write a whole number")
                    .at(self.0.span)
            }),
            _ => self.fail(&what),
        }
    }
    /// Text with a control character (written as an escape: raw ones are refused with the file) is refused:
    /// names, ad text and ids go to terminals, CI logs and the platforms.
    fn checked(&self, t: &str) -> Result<(), DeError> {
        // Raw control characters are refused with the file (`load`): only a double-quoted escape can make one.
        if !matches!(
            &self.0.kind,
            NodeKind::Scalar {
                style: Style::Quoted,
                ..
            }
        ) || !super::excerpt::may_be_hostile(t)
        {
            return Ok(());
        }
        match t.chars().find(|c| super::excerpt::is_hostile_char(*c) || *c == '\r') {
            None => Ok(()),
            Some(c) => Err(DeError::new(
                Code::ControlCharacter,
                format!(
                    "text holds a control character `{}` (U+{:04X})",
                    super::excerpt::escape_char(c),
                    c as u32
                ),
            )
            .hint("remove it (check for `\\0`, `\\e`, `\\x..` or `\\u....` escapes in double quotes)")
            .at(self.0.span)),
        }
    }
    fn bool(&self) -> Result<bool, DeError> {
        match self.text() {
            Some(("true" | "True" | "TRUE", Style::Plain)) => Ok(true),
            Some(("false" | "False" | "FALSE", Style::Plain)) => Ok(false),
            _ => self.fail(&"true or false"),
        }
    }
}

fn remember(e: DeError) -> DeError {
    LAST.with(|l| *l.borrow_mut() = Some(e.clone()));
    e
}

macro_rules! positioned {
    ($self:ident, $body:expr) => {{
        let span = $self.0.span;
        // A closure, so that `?` inside the body is positioned too.
        #[allow(clippy::redundant_closure_call)]
        let r: Result<_, DeError> = (move || $body)();
        r.map_err(|e| remember(e.at(span)))
    }};
}

macro_rules! ints {
    ($($m:ident $v:ident $t:ty, $what:literal;)*) => {$(
        fn $m<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            positioned!(self, { let n: $t = self.int($what)?; visitor.$v(n) })
        }
    )*};
}

impl<'de, 'a> Deserializer<'de> for NodeDe<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        positioned!(self, {
            match &self.0.kind {
                _ if self.0.is_null() => visitor.visit_unit(),
                NodeKind::Scalar { text, .. } => {
                    self.checked(text)?;
                    visitor.visit_str(text)
                }
                NodeKind::Seq(items) => visitor.visit_seq(Seq { items: items.iter() }),
                NodeKind::Map(entries) => visitor.visit_map(Map {
                    entries: entries.iter(),
                    value: None,
                }),
            }
        })
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        positioned!(self, visitor.visit_bool(self.bool()?))
    }

    ints! {
        deserialize_i8 visit_i8 i8, "a small integer";
        deserialize_i16 visit_i16 i16, "an integer";
        deserialize_i32 visit_i32 i32, "an integer";
        deserialize_i64 visit_i64 i64, "an integer";
        deserialize_u8 visit_u8 u8, "a small positive integer";
        deserialize_u16 visit_u16 u16, "a positive integer";
        deserialize_u32 visit_u32 u32, "a positive integer";
        deserialize_u64 visit_u64 u64, "a positive integer";
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        positioned!(
            self,
            Err(DeError::new(Code::InvalidType, "floating point is not used in adsctl"))
        )
    }
    fn deserialize_f64<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        positioned!(
            self,
            Err(DeError::new(Code::InvalidType, "floating point is not used in adsctl"))
        )
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        positioned!(self, {
            match self.text() {
                Some((t, _)) if !self.0.is_null() => {
                    self.checked(t)?;
                    visitor.visit_str(t)
                }
                _ => self.fail(&"a string"),
            }
        })
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.is_null() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        positioned!(self, {
            if self.0.is_null() {
                visitor.visit_unit()
            } else {
                self.fail(&"nothing (null)")
            }
        })
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(self, _name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, DeError> {
        if name == SPANNED {
            let s = self.0.span;
            let nums = [s.file, s.offset, s.len, s.line, s.col].map(|n| n as u64);
            return visitor.visit_seq(SpannedSeq {
                nums,
                i: 0,
                node: self.0,
            });
        }
        if name == ITEM {
            // The Item visitor turns a failure into `Item { value: None }` after recording it.
            return visitor.visit_newtype_struct(self);
        }
        if name == CAPTURE {
            let hook = HOOK.with(|h| h.borrow().clone());
            let what = CAPTURING.with(|c| c.get());
            let made = hook.map(|h| h(self.0, what));
            CAPTURED.with(|c| *c.borrow_mut() = made);
            return visitor.visit_unit();
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        positioned!(self, {
            match &self.0.kind {
                NodeKind::Seq(items) => visitor.visit_seq(Seq { items: items.iter() }),
                _ => self.fail(&"a list"),
            }
        })
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        positioned!(self, {
            match &self.0.kind {
                NodeKind::Map(entries) => {
                    let first = first_occurrences(entries, None);
                    visitor.visit_map(Map {
                        entries: first.into_iter(),
                        value: None,
                    })
                }
                _ => self.fail(&"a mapping"),
            }
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        positioned!(self, {
            match &self.0.kind {
                NodeKind::Map(entries) => {
                    let known: Vec<&(Node, Node)> = first_occurrences(entries, Some(fields))
                        .into_iter()
                        .filter(|(k, _)| {
                            let key = key_text(k);
                            if fields.contains(&key) {
                                return true;
                            }
                            if !sink_full() {
                                report(unknown_field(k, key, name, fields));
                            }
                            false
                        })
                        .collect();
                    visitor.visit_map(Map {
                        entries: known.into_iter(),
                        value: None,
                    })
                }
                _ => self
                    .fail(&format!("a mapping ({})", describe(name)).as_str())
                    .map_err(|e| match example(name) {
                        Some(ex) => e.hint(format!("write it like `{ex}`")),
                        None => e,
                    }),
            }
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        positioned!(self, {
            match self.text() {
                Some((t, _)) if !self.0.is_null() => {
                    self.checked(t)?;
                    let t = t.trim();
                    let v = variants
                        .iter()
                        .find(|v| v.eq_ignore_ascii_case(t))
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| t.to_string());
                    visitor.visit_enum(v.into_deserializer())
                }
                _ => self.fail(&format!("one of: {}", variants.join(", ")).as_str()),
            }
        })
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// How a mapping is written, for type errors on the structs people most often write as a scalar.
fn example(name: &str) -> Option<&'static str> {
    Some(match name {
        "CampaignBudget" => "budget: { daily: 50 }",
        "Bidding" => "bidding: { maximize_conversions: {} }",
        "ManualCpc" | "MaximizeConversions" | "MaximizeConversionValue" | "TargetSpend" => "manual_cpc: {}",
        "TargetCpa" => "target_cpa: { target_cpa: 15 }",
        "TargetRoas" => "target_roas: { target_roas: 4 }",
        "AgeRange" => "age: { min: 18, max: 65 }",
        "CustomerFile" => "customer_file: { path: data/list.csv, column: email }",
        "GuardrailsSpec" => "guardrails: { max_daily_budget: 500 }",
        "LifecycleSpec" => "lifecycle: { prevent_destroy: true }",
        "Keyword" | "NegativeKeyword" => "- { text: running shoes, match: phrase }",
        "GoogleAd" => "- responsive_search: { headlines: [...], descriptions: [...], final_url: ... }",
        _ => return None,
    })
}

/// A struct's name in messages: `AdGroup` → `ad group`.
pub fn describe(name: &str) -> String {
    let name = name.strip_suffix("Spec").unwrap_or(name);
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push(' ');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A mapping key's text (empty for a key that is not a scalar).
pub fn key_text(k: &Node) -> &str {
    match &k.kind {
        NodeKind::Scalar { text, .. } => text.as_str(),
        _ => "",
    }
}

fn unknown_field(k: &Node, key: &str, name: &str, fields: &[&str]) -> DeError {
    let what = describe(name);
    // `daily:50` in a flow mapping: one plain scalar, because the colon is not followed by a space
    if let Some((field, value)) = key.split_once(':') {
        if fields.contains(&field) && !value.starts_with(' ') {
            return DeError::new(Code::YamlSyntax, format!("missing space after `:` in `{key}`"))
                .hint(format!(
                    "write `{field}: {value}`: YAML needs a space after the colon of a key"
                ))
                .at(k.span);
        }
    }
    let mut e = DeError::new(Code::UnknownField, format!("unknown field `{key}` in {what}")).at(k.span);
    let list = fields.join(", ");
    if name == "ResourceFile" && key == "accounts" {
        return e.hint("accounts are declared in adsctl.yaml, the project file at the root; this is a resource file");
    }
    e = match did_you_mean(key, fields.iter().copied()) {
        Some(s) => e.hint(format!("did you mean `{s}`? fields of {what}: {list}")),
        None => e.hint(format!("fields of {what}: {list}")),
    };
    e
}

/// The entries whose key appears for the first time; a repeated key is reported (for a struct, only keys that
/// are fields: unknown ones are reported as unknown). Linear, so a huge mapping cannot stall the loader.
fn first_occurrences<'a>(entries: &'a [(Node, Node)], fields: Option<&[&str]>) -> Vec<&'a (Node, Node)> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let key = key_text(&e.0);
        if seen.insert(key) {
            out.push(e);
        } else if fields.is_none_or(|f| f.contains(&key)) {
            report(
                DeError::new(
                    Code::DuplicateKey,
                    format!("key `{key}` is given twice in this mapping"),
                )
                .hint("remove one of them")
                .at(e.0.span),
            );
        }
    }
    out
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
}

impl<'de, 'a> SeqAccess<'de> for Seq<'a> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(n) => seed.deserialize(NodeDe(n)).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a, I: Iterator<Item = &'a (Node, Node)>> {
    entries: I,
    value: Option<&'a Node>,
}

impl<'de, 'a, I: Iterator<Item = &'a (Node, Node)>> MapAccess<'de> for Map<'a, I> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(NodeDe(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.value.take() {
            Some(v) => seed.deserialize(NodeDe(v)),
            None => Err(DeError::new(Code::InvalidValue, "a mapping value is missing")),
        }
    }
}

struct SpannedSeq<'a> {
    nums: [u64; 5],
    i: usize,
    node: &'a Node,
}

impl<'de, 'a> SeqAccess<'de> for SpannedSeq<'a> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, DeError> {
        let i = self.i;
        self.i += 1;
        match self.nums.get(i) {
            Some(&n) => seed.deserialize(n.into_deserializer()).map(Some),
            None if i == self.nums.len() => seed.deserialize(NodeDe(self.node)).map(Some),
            None => Ok(None),
        }
    }
}

/// A value with the position it was written at.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    pub span: Span,
    pub value: T,
}

impl<T> Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positioned value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Spanned<T>, A::Error> {
                let mut n = [0usize; 5];
                for slot in n.iter_mut() {
                    let x: u64 = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::custom("spanned value without position"))?;
                    *slot = usize::try_from(x).unwrap_or(usize::MAX);
                }
                let value = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("spanned value without value"))?;
                Ok(Spanned {
                    span: Span {
                        file: n[0],
                        offset: n[1],
                        len: n[2],
                        line: n[3],
                        col: n[4],
                    },
                    value,
                })
            }
        }
        d.deserialize_newtype_struct(SPANNED, V(PhantomData))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(gen)
    }
}

/// One element of a list, checked on its own: when it is invalid its error is recorded and `value` is `None`,
/// and the other elements are still checked.
#[derive(Clone, Debug)]
pub struct Item<T> {
    pub value: Option<T>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Item<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Item<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list element")
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Item<T>, D::Error> {
                match T::deserialize(d) {
                    Ok(v) => Ok(Item { value: Some(v) }),
                    Err(e) => {
                        // Errors from our own deserializer were remembered with their position.
                        match LAST.with(|l| l.borrow_mut().take()) {
                            Some(last) => report(last),
                            None => return Err(e),
                        }
                        Ok(Item { value: None })
                    }
                }
            }
        }
        d.deserialize_newtype_struct(ITEM, V(PhantomData))
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Item<T> {
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(gen)
    }
}

#[cfg(test)]
mod tests {
    use super::super::yaml::parse;
    use super::*;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct K {
        text: Spanned<String>,
        #[serde(rename = "match")]
        match_type: M,
        #[allow(dead_code)]
        bid: Option<u32>,
    }
    #[derive(Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum M {
        Exact,
        Phrase,
    }
    #[derive(Deserialize, Debug)]
    struct F {
        keywords: Vec<Item<K>>,
    }

    #[test]
    fn recovers_per_item_and_positions_errors() {
        let src =
            "keywords:\n  - {text: a, match: EXACT}\n  - {text: b, mtch: exact}\n  - {text: c, match: fuzzy, bid: x}\n";
        let doc = parse(src, 0, "t").unwrap().remove(0);
        let f: F = from_node(&doc).unwrap();
        let errs = collect();
        assert_eq!(f.keywords.len(), 3);
        assert_eq!(f.keywords[0].value.as_ref().unwrap().match_type, M::Exact);
        assert_eq!(f.keywords[0].value.as_ref().unwrap().text.span.line, 2);
        assert!(f.keywords[1].value.is_none());
        assert!(f.keywords[2].value.is_none());
        let msgs: Vec<String> = errs
            .iter()
            .map(|e| format!("{}:{} {}", e.span.unwrap().line, e.span.unwrap().col, e.message))
            .collect();
        assert!(msgs.contains(&"3:15 unknown field `mtch` in k".to_string()), "{msgs:?}");
        assert!(
            msgs.contains(&"3:5 missing required field `match`".to_string()),
            "{msgs:?}"
        );
        assert!(msgs.contains(&"4:22 invalid value `fuzzy`".to_string()), "{msgs:?}");
    }
}

/// An optional field that is checked on its own: absent, present, or invalid (its error recorded). It reads as
/// an `Option<Spanned<T>>` (an invalid value reads as `None`), so the rest of a resource is still checked.
#[derive(Clone, Debug)]
pub struct Opt<T> {
    value: Option<Spanned<T>>,
    invalid: bool,
}

impl<T> Default for Opt<T> {
    fn default() -> Self {
        Opt {
            value: None,
            invalid: false,
        }
    }
}

impl<T> Opt<T> {
    /// The field was written but its value was rejected (the error is already recorded).
    pub fn is_invalid(&self) -> bool {
        self.invalid
    }
}

impl<T> Deref for Opt<T> {
    type Target = Option<Spanned<T>>;
    fn deref(&self) -> &Option<Spanned<T>> {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Opt<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let item = Item::<Option<Spanned<T>>>::deserialize(d)?;
        Ok(match item.value {
            Some(value) => Opt { value, invalid: false },
            None => Opt {
                value: None,
                invalid: true,
            },
        })
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Opt<T> {
    fn is_referenceable() -> bool {
        T::is_referenceable()
    }
    fn schema_name() -> String {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        T::json_schema(gen)
    }
}
#[cfg(test)]
mod opt_tests {
    use super::super::yaml::parse;
    use super::*;

    #[derive(Deserialize, Debug)]
    struct G {
        #[serde(default)]
        a: Opt<u32>,
        #[serde(default)]
        b: Opt<String>,
    }

    #[test]
    fn opt_recovers() {
        let doc = parse("{ a: lots, b: -5 }", 0, "t").unwrap().remove(0);
        let g: Option<G> = from_node(&doc);
        let errs = collect();
        assert_eq!(errs.len(), 1, "{errs:?}");
        let g = g.unwrap();
        assert!(g.a.is_invalid());
        assert_eq!(g.b.as_ref().unwrap().value, "-5");
    }
}
