//! JSON as jsonld.js reads it, pure: the document written back as text for the JSON-LD parser,
//! every number outside contexts in the lexical form JavaScript would give its RDF literal
//! (an IEEE double first; `xsd:integer` via `toFixed(0)`, `xsd:double` via `toExponential(15)`).

use super::*;

/// JSON text for the JSON-LD parser, with every number (outside contexts) rewritten to the
/// lexical form jsonld.js would give its RDF literal.
pub(super) fn write_json(value: &Value, in_context: bool, out: &mut String) -> Result<(), LdError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if in_context => out.push_str(&n.to_string()),
        Value::Number(n) => out.push_str(&js_number_lexical(n)?),
        Value::String(s) => write_json_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(item, in_context, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(key, out);
                out.push(':');
                write_json(item, in_context || key == "@context", out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

pub(super) fn write_json_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c < ' ' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The JSON number lexical whose RDF conversion (by the JSON-LD parser) equals jsonld.js's:
/// the value as an IEEE double; "double" when JavaScript's `String(v)` has a `.` or |v| ≥ 1e21,
/// written as `toExponential(15)` with trailing zeros trimmed (`1.25E1`); otherwise an integer,
/// `toFixed(0)`. Refuses the few values the parser would classify differently.
pub(super) fn js_number_lexical(n: &serde_json::Number) -> Result<String, LdError> {
    let v = n.as_f64().filter(|v| v.is_finite()).ok_or_else(|| LdError::UnsupportedNumber(n.to_string()))?;
    let unsupported = || LdError::UnsupportedNumber(n.to_string());
    let abs = v.abs();
    // Shortest round-trip digits, as JavaScript's Number::toString picks them.
    let shortest = format!("{abs:e}");
    let (mantissa, exponent) = shortest.split_once('e').ok_or_else(unsupported)?;
    let digits = mantissa.chars().filter(char::is_ascii_digit).count();
    let exponent: i32 = exponent.parse().map_err(|_| unsupported())?;
    let point_position = exponent + 1; // value = 0.d1d2... × 10^point_position
    let plain = v == 0.0 || (-6 < point_position && point_position <= 21);
    let has_dot = if plain { v != 0.0 && (point_position <= 0 || digits as i32 > point_position) } else { digits > 1 };
    if has_dot || abs >= 1e21 {
        let exact = format!("{v:.15e}");
        let (m, e) = exact.split_once('e').ok_or_else(unsupported)?;
        let m = m.trim_end_matches('0');
        let m = if m.ends_with('.') { format!("{m}0") } else { m.to_owned() };
        let significant = m.trim_start_matches('-').trim_end_matches(".0").chars().filter(char::is_ascii_digit).count();
        let e: i32 = e.parse().map_err(|_| unsupported())?;
        // The parser takes mantissas that fit in an integer below 1e21 for integers.
        if e + 1 >= significant as i32 && e + 1 < 21 {
            return Err(unsupported());
        }
        Ok(format!("{m}E{e}"))
    } else if abs < 1e-6 && v != 0.0 {
        // `toFixed(0)` of a tiny value: "0", or "-0", which the parser would turn into "0".
        if v < 0.0 {
            Err(unsupported())
        } else {
            Ok("0".into())
        }
    } else if abs >= 1e20 {
        // 21 digits: the parser would make it a double.
        Err(unsupported())
    } else if v == 0.0 {
        Ok("0".into())
    } else {
        Ok(format!("{v:.0}"))
    }
}
