"""AWS at the edge: each adapter turns one service into the interface a use case takes."""
