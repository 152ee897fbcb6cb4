import weightspace


def test_all_is_sorted_and_unique():
    assert weightspace.__all__ == sorted(set(weightspace.__all__))


def test_all_names_exist_and_every_public_export_is_listed():
    for name in weightspace.__all__:
        assert hasattr(weightspace, name), name
    exported = {
        name
        for name, value in vars(weightspace).items()
        if not name.startswith("_") and not isinstance(value, type(weightspace))
    }
    assert exported <= set(weightspace.__all__)


def test_version_is_a_string():
    assert weightspace.__version__.count(".") == 2
