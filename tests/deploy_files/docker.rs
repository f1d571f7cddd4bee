//! The container image: a multi-stage Dockerfile building both binaries into a non-root
//! runtime image, and a `.dockerignore` that keeps `target/` out of the build context.

use crate::{deploy, read, repo};
use std::collections::BTreeSet;

#[test]
fn dockerfile_builds_both_binaries_into_a_non_root_image() {
    let dockerfile = read(&deploy("Dockerfile"));
    let stages = dockerfile
        .lines()
        .filter(|l| l.trim_start().to_uppercase().starts_with("FROM "))
        .count();
    assert!(stages >= 2, "the Dockerfile should be multi-stage");
    for binary in ["avni-int-dispatcher", "avni-int-worker"] {
        assert!(
            dockerfile.contains(&format!("-p {binary}")),
            "the Dockerfile does not build {binary}"
        );
    }
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap().trim();
    assert!(uid != "0" && uid != "root", "the image runs as root");
    let exposed: BTreeSet<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("EXPOSE "))
        .flat_map(str::split_whitespace)
        .collect();
    assert!(
        exposed.contains("6013") && exposed.contains("6014"),
        "EXPOSE 6013 6014"
    );
    let ignore = read(&repo().join(".dockerignore"));
    assert!(
        ignore
            .lines()
            .any(|l| l.trim().trim_end_matches('/') == "target"),
        ".dockerignore must keep target/ out of the build context"
    );
}
