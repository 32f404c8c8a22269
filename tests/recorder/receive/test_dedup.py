from pandora_recorder.receive.dedup import DuplicateFilter


def test_second_copy_is_a_repeat_per_ssrc() -> None:
    duplicates = DuplicateFilter()
    assert not duplicates.is_repeat(1, 100)
    assert duplicates.is_repeat(1, 100)
    assert not duplicates.is_repeat(2, 100)


def test_memory_is_bounded_so_wrapped_sequences_are_new_again() -> None:
    duplicates = DuplicateFilter(memory=4)
    for sequence in range(5):
        assert not duplicates.is_repeat(1, sequence)
    assert not duplicates.is_repeat(1, 0)  # forgotten: a wrapped sequence number is a new packet
    assert duplicates.is_repeat(1, 4)
