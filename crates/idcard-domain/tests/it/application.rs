use idcard_domain::{ApplicationEvent as E, ApplicationState as S, transition};

#[test]
fn legal_transitions_are_exactly_these() {
    let legal = [
        (S::Submitted, E::DeliveredToReview, S::UnderReview),
        (S::UnderReview, E::Approved, S::Approved),
        (S::UnderReview, E::Rejected, S::Rejected),
        (S::Approved, E::ProductionStarted, S::InProduction),
        (S::InProduction, E::QualityCheckFailed, S::QualityCheckFailed),
        (S::QualityCheckFailed, E::Remade, S::InProduction),
        (S::InProduction, E::QualityCheckPassed, S::Produced),
        (S::Produced, E::Dispatched, S::Dispatched),
        (S::Dispatched, E::Arrived, S::ReadyForCollection),
        (S::ReadyForCollection, E::Collected, S::Collected),
    ];
    for &from in S::ALL {
        for &event in E::ALL {
            let expected = legal
                .iter()
                .find(|(f, e, _)| *f == from && *e == event)
                .map(|(_, _, to)| *to);
            match (transition(from, event), expected) {
                (Ok(to), Some(want)) => assert_eq!(to, want),
                (Err(err), None) => {
                    assert_eq!((err.from, err.event), (from, event));
                    assert!(err.to_string().starts_with("cannot "));
                }
                (got, want) => panic!("{from} + {event}: got {got:?}, want {want:?}"),
            }
        }
    }
}

#[test]
fn illegal_transition_message_names_event_and_state() {
    let err = transition(S::Rejected, E::ProductionStarted).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot start production of an application that is rejected"
    );
    let err = transition(S::UnderReview, E::Collected).unwrap_err();
    assert_eq!(err.to_string(), "cannot hand over an application that is under review");
}

#[test]
fn states_serialise_as_snake_case() {
    assert_eq!(S::ReadyForCollection.as_str(), "ready_for_collection");
    assert_eq!("quality_check_failed".parse::<S>(), Ok(S::QualityCheckFailed));
    assert!(S::Collected.is_terminal() && S::Rejected.is_terminal());
    assert!(!S::QualityCheckFailed.is_terminal());
}
