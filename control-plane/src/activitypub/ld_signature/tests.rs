use super::*;
use oxrdf::dataset::{CanonicalizationAlgorithm, CanonicalizationHashAlgorithm};
use oxrdf::Dataset;

const VECTOR: &str = include_str!("../../../tests-data/rsasig2017-cachefile.json");

fn vector() -> Value {
    serde_json::from_str(VECTOR).unwrap()
}

/// The same quads canonicalised by oxrdf's RDFC-1.0, written with the legacy serialisation.
fn oxrdf_canonical(quads: &[Quad]) -> String {
    let mut dataset = Dataset::new();
    for quad in quads {
        dataset.insert(quad);
    }
    dataset.canonicalize(CanonicalizationAlgorithm::Rdfc10 { hash_algorithm: CanonicalizationHashAlgorithm::Sha256 });
    let mut lines: Vec<String> = dataset.iter().map(|q| nquad(&q.into_owned(), &|b: &str| format!("_:{b}"))).collect();
    lines.sort_by(|a, b| cmp_utf16(a, b));
    lines.concat()
}

#[test]
#[ignore]
fn zz_dev_batch() {
    let input: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(std::env::var("LD_BATCH_IN").unwrap()).unwrap()).unwrap();
    let use_oxrdf = std::env::var("LD_OXRDF").is_ok();
    let out: Vec<Value> = input
        .iter()
        .map(|d| {
            let r = if use_oxrdf {
                let mut json = String::new();
                write_json(d, false, &mut json).unwrap();
                to_quads(json.as_bytes(), false).map(|q| oxrdf_canonical(&q))
            } else {
                canonicalize(d)
            };
            match r {
                Ok(s) => serde_json::json!({ "ok": s }),
                Err(e) => serde_json::json!({ "err": format!("{e:?}") }),
            }
        })
        .collect();
    std::fs::write(std::env::var("LD_BATCH_OUT").unwrap(), serde_json::to_string(&out).unwrap()).unwrap();
}
