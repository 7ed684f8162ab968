"""Operations stage (availability, dispatch, conflicts): filled by a later issue."""
