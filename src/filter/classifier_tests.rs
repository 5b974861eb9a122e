use super::*;

/// A model whose only non-zero weight is the hyphen part `casino` of the `gambling` category.
fn toy() -> Classifier {
    let bits = 12;
    let mut weights = vec![0f32; 1 << bits];
    weights[bucket(b'p', b"casino", bits) as usize] = 8.0;
    let gambling = CategoryModel::quantise("gambling", -4.0, 0.9, &weights);
    let adult = CategoryModel::quantise("adult", -4.0, 0.9, &vec![0f32; 1 << bits]);
    Classifier::new(bits, vec![adult, gambling]).unwrap()
}

#[test]
fn registrable_label_skips_subdomains_and_second_level_suffixes() {
    assert_eq!(registrable("www.pornhub.com"), ("pornhub", "com"));
    assert_eq!(registrable("shop.example.co.uk"), ("example", "co.uk"));
    assert_eq!(registrable("co.uk"), ("co", "uk"));
    assert_eq!(registrable("example.co"), ("example", "co"));
    assert_eq!(registrable("localhost"), ("localhost", ""));
}

#[test]
fn classifies_by_features_of_the_registrable_label() {
    let model = toy();
    let v = model.classify("www.best-casino.example").unwrap();
    assert_eq!(v.category, "gambling");
    assert!(v.score > 0.97, "{v:?}");
    // Same letters in a subdomain, or inside a word, are different features.
    assert_eq!(model.classify("casino.example.org"), None);
    assert_eq!(model.classify("bestcasinos.example"), None);
    let scores = model.scores("example.org");
    assert!(scores[0] < 0.05 && scores[1] < 0.05, "{scores:?}");
}

#[test]
fn thresholds_decide() {
    let mut model = toy();
    assert!(model.set_threshold("gambling", 0.999));
    assert!(!model.set_threshold("weapons", 0.5));
    assert_eq!(model.classify("best-casino.example"), None);
}

#[test]
fn bytes_round_trip_and_corrupt_models_are_refused() {
    let model = toy();
    let bytes = model.to_bytes();
    assert_eq!(Classifier::from_bytes(&bytes).unwrap(), model);
    assert_eq!(
        Classifier::from_bytes(&bytes[..bytes.len() - 1]),
        Err(ClassifierError::Truncated)
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        Classifier::from_bytes(&longer),
        Err(ClassifierError::TrailingBytes(1))
    );
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(
        Classifier::from_bytes(&magic),
        Err(ClassifierError::BadMagic)
    );
    let mut bits = bytes;
    bits[8] = 40;
    assert_eq!(
        Classifier::from_bytes(&bits),
        Err(ClassifierError::BadBits(40))
    );
}

#[test]
fn long_labels_do_not_overflow_the_frame() {
    let label = "a".repeat(63);
    let mut n = 0;
    features(&format!("{label}.{label}.com"), 12, |b| {
        assert!(b < 1 << 12);
        n += 1;
    });
    assert!(n > 150, "{n}");
}

#[test]
fn shipped_model_loads_and_spares_popular_names() {
    let model = Classifier::from_bytes(include_bytes!("../../blocklists/classifier.bin")).unwrap();
    let categories: Vec<&str> = model.categories().iter().map(|c| c.name.as_str()).collect();
    assert_eq!(categories, ["adult", "gambling"]);
    for popular in [
        "www.google.com",
        "en.wikipedia.org",
        "www.bbc.co.uk",
        "github.com",
        "login.microsoftonline.com",
    ] {
        assert_eq!(model.classify(popular), None, "{popular}");
    }
}

#[test]
fn institutional_names_are_never_classified() {
    let bits = 12;
    let adult = CategoryModel::quantise("adult", 10.0, 0.5, &vec![0f32; 1 << bits]);
    let model = Classifier::new(bits, vec![adult]).unwrap();
    for name in [
        "www.essex.ac.uk",
        "wessex.nhs.uk",
        "nasa.gov",
        "edu",
        "cs.stanford.edu",
    ] {
        assert!(institutional(name), "{name}");
        assert_eq!(model.classify(name), None, "{name}");
    }
    for name in ["essex-ac.uk", "mygov.com", "example.education"] {
        assert!(!institutional(name), "{name}");
        assert!(model.classify(name).is_some(), "{name}");
    }
}
